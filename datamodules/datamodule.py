"""``FusionDataModule``: training crops / patches and full-size test pairs for every method.

Images are decoded once (in :meth:`FusionDataModule.setup`) and held in memory
as uint8, so an epoch does no repeated JPEG decoding. Randomness (random crop
windows, shuffled order) comes from generators seeded by ``(seed, epoch,
index)``, never from the global RNG: the same ``seed`` gives the same batches
whatever the number of workers, and ``seed_everything(seed, workers=True)``
keeps the rest of a run reproducible too.

Batches are dicts: ``"ir"`` and ``"vis"`` (N x 1 x H x W float in [0, 1]; a
colour visible image is its Y, :func:`datamodules.color.luminance`),
``"pair_id"``, ``"dataset"`` and ``"modality"`` (lists of N strings;
modality ``"pair"``); with ``color=True``, validation / test / predict items of
pairs whose visible file is colour also carry ``"vis_rgb"`` (N x 3 x H x W
float in [0, 1], k / 255: the visible file's RGB, whose Y is ``"vis"``); with ``unpaired=True`` (DenseFuse's auto-encoder sees
single images) ``"image"`` instead of ``"ir"``/``"vis"``, and modality
``"ir"``, ``"vis"`` or ``"image"`` (an image of a flat folder).

Example:
    >>> dm = FusionDataModule(train_dataset="sample_flir", test_datasets=["sample_tno"], batch_size=2)
    >>> dm.setup("fit")
    >>> batch = next(iter(dm.train_dataloader()))
    >>> batch["ir"].shape
    torch.Size([2, 1, 128, 128])
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from . import transforms as T
from .datasets import DatasetError, Pair, dataset_label, get_dataset, list_images, load_pairs, read_pair_color
from .folders import find_layout
from .io import read_image

__all__ = ["EpochSampler", "FusionDataModule", "FusionDataset", "Sample", "TRAIN_MODES"]

TRAIN_MODES = ("center_crop", "random_crop", "patches", "resize", "full")

IdSelection = str | int | Sequence[str | int] | None


@dataclass(frozen=True)
class Sample:
    """Decoded images of one training / test item.

    Attributes:
        images: uint8 tensors H x W, one per key of the dataset (IR and VIS, or one
            image); a colour pair decoded with ``color=True`` has a third, the
            visible RGB, 3 x H x W (key ``"vis_rgb"``).
        pair_id: the pair's id.
        dataset: the dataset's name.
        modality: ``"pair"``, ``"ir"``, ``"vis"`` or ``"image"``.
    """

    images: tuple[torch.Tensor, ...]
    pair_id: str
    dataset: str
    modality: str = "pair"


def decode_pairs(pairs: Sequence[Pair], color: bool = False) -> list[Sample]:
    """Decode pairs once (gray uint8, one size per pair; see :func:`datamodules.datasets.read_pair_color`);
    with ``color``, a colour visible image is kept too (3 x H x W uint8, the third image)."""
    samples = []
    for pair in pairs:
        ir, vis, vis_rgb = read_pair_color(pair)
        images = (torch.from_numpy(ir), torch.from_numpy(vis))
        if color and vis_rgb is not None:
            images += (torch.from_numpy(np.ascontiguousarray(vis_rgb.transpose(2, 0, 1))),)
        samples.append(Sample(images, pair.pair_id, pair.dataset))
    return samples


def _seed_of(*parts: int) -> int:
    """A well-mixed 63-bit seed from integers (``numpy.random.SeedSequence``)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint64)[0] >> np.uint64(1))


class FusionDataset(Dataset):
    """Decoded images in memory, served as centre crops, random crops, patches, resized or full images.

    Index ``k`` selects item ``k % len(self)`` in epoch ``k // len(self)``:
    :class:`EpochSampler` passes the epoch that way, so that random crop
    windows, drawn from a generator seeded by ``(seed, epoch, item)``, change
    every epoch yet are the same in every run and every worker.

    Args:
        samples: decoded images (see :func:`decode_pairs`).
        keys: the batch keys of a sample's images (``("ir", "vis")`` or ``("image",)``).
        mode: one of :data:`TRAIN_MODES`.
        size: crop / patch / resize size in pixels.
        stride: patch stride in pixels (``mode="patches"``).
        seed: seed of the random crops.
        interpolation: ``"bilinear"`` or ``"nearest"`` (``mode="resize"``).

    Items: ``{key: 1 x h x w float in [0, 1] for key in keys, "pair_id", "dataset", "modality"}``;
    a sample's 3 x H x W image (the visible RGB) is cropped with the others and
    served as 3 x h x w under its key (``keys[2]``, ``"vis_rgb"``).
    """

    def __init__(self, samples: Sequence[Sample], keys: Sequence[str] = ("ir", "vis"), mode: str = "full",
                 size: int = 128, stride: int = 12, seed: int = 0, interpolation: str = "bilinear") -> None:
        if mode not in TRAIN_MODES:
            raise ValueError(f"mode must be one of {', '.join(TRAIN_MODES)}; got {mode!r}")
        if not samples:
            raise DatasetError("FusionDataset: no samples (an empty selection of pairs)")
        self.keys, self.mode, self.size, self.stride = tuple(keys), mode, int(size), int(stride)
        self.seed, self.interpolation = int(seed), interpolation
        self.samples = list(samples)
        if mode in ("center_crop", "random_crop", "patches"):
            for sample in self.samples:
                height, width = sample.images[0].shape
                if height < self.size or width < self.size:
                    raise DatasetError(f"pair {sample.pair_id!r} of {sample.dataset!r} is {width}x{height} (W x H), "
                                       f"smaller than the {mode} size {self.size}")
        if mode == "center_crop":  # deterministic: crop once
            self.samples = [Sample(tuple(T.center_crop(im, self.size).clone() for im in s.images), s.pair_id,
                                   s.dataset, s.modality) for s in self.samples]
        self.windows: list[tuple[int, int, int]] = []
        if mode == "patches":
            for index, sample in enumerate(self.samples):
                height, width = sample.images[0].shape
                self.windows += [(index, top, left) for top, left in T.patch_positions(height, width, self.size, self.stride)]

    def __len__(self) -> int:
        return len(self.windows) if self.mode == "patches" else len(self.samples)

    def random_window(self, index: int) -> tuple[int, int]:
        """(top, left) of the random crop of index ``index`` (item ``index % len``, epoch ``index // len``)."""
        epoch, item = divmod(int(index), len(self))
        height, width = self.samples[item].images[0].shape
        generator = torch.Generator().manual_seed(_seed_of(self.seed, epoch, item))
        return T.random_crop_window(height, width, self.size, generator)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = int(index) % len(self)
        if self.mode == "patches":
            sample_index, top, left = self.windows[item]
            sample = self.samples[sample_index]
            images = [T.crop(im, top, left, self.size, self.size) for im in sample.images]
        else:
            sample = self.samples[item]
            images = list(sample.images)
            if self.mode == "random_crop":  # one window for IR and VIS
                top, left = self.random_window(index)
                images = [T.crop(im, top, left, self.size, self.size) for im in images]
        tensors = [(im.unsqueeze(0) if im.ndim == 2 else im).to(torch.float32) / 255.0 for im in images]
        if self.mode == "resize":
            tensors = [T.resize(t, self.size, self.interpolation) for t in tensors]
        out: dict[str, Any] = dict(zip(self.keys, tensors))
        out.update(pair_id=sample.pair_id, dataset=sample.dataset, modality=sample.modality)
        return out


class EpochSampler(Sampler[int]):
    """Sequential or shuffled order, seeded by ``(seed, epoch)``, that tells the dataset the epoch.

    Yields ``epoch * n + i`` for each item ``i`` (see :class:`FusionDataset`).
    Lightning calls :meth:`set_epoch` before each epoch (so a resumed run
    continues with the right epoch); without it, each pass counts one epoch.
    """

    def __init__(self, length: int, shuffle: bool = False, seed: int = 0) -> None:
        self.length, self.shuffle, self.seed = int(length), bool(shuffle), int(seed)
        self._next_epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass epoch ``epoch``."""
        self._next_epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[int]:
        epoch = self._next_epoch
        self._next_epoch += 1
        if self.shuffle:
            generator = torch.Generator().manual_seed(_seed_of(self.seed, epoch, 0x5EED))
            order = torch.randperm(self.length, generator=generator).tolist()
        else:
            order = range(self.length)
        offset = epoch * self.length
        return iter([offset + i for i in order])


def _ids_for(selection: IdSelection | Mapping[str, IdSelection], name: str) -> IdSelection:
    if isinstance(selection, Mapping):
        return selection.get(name, selection.get(dataset_label(name)))
    return selection


class FusionDataModule(L.LightningDataModule):
    """Training, validation, test and predict data for a fusion method.

    Args:
        train_dataset: registered name or folder of the training pairs
            (with ``unpaired=True`` also a flat folder of images).
        test_datasets: names or folders of the test (and predict) sets; one
            dataloader each, batch 1, full size.
        val_datasets: names or folders of validation sets, as the test sets.
        data_root: where registered datasets live (``--data-root``; default
            ``$IVIF_BENCH_DATA``, else the user cache dir).
        train_mode: ``"center_crop"`` (torchvision CenterCrop, the DIDFuse
            protocol), ``"random_crop"`` (one window for IR and VIS, new each
            epoch), ``"patches"`` (every ``crop_size`` window at
            ``patch_stride``), ``"resize"`` (to ``crop_size`` square, aspect not
            kept) or ``"full"`` (whole images; needs ``batch_size=1`` unless all
            pairs have one size).
        crop_size: crop / patch / resize size in pixels.
        patch_stride: stride of ``"patches"`` in pixels.
        unpaired: serve IR and VIS images as independent single images (key ``"image"``).
        color: validation / test / predict items of pairs whose visible file
            is colour also carry ``"vis_rgb"`` (3 x H x W, the file's RGB; its Y
            is ``"vis"``), for colour fusion (:func:`datamodules.color.fuse_color`).
            Training batches stay gray.
        train_ids, val_ids, test_ids: pair-id selections (``"1-8,12"`` or a
            list), ``None`` for all; ``val_ids`` / ``test_ids`` apply to each
            set, or map a set's name to its selection.
        batch_size: training batch size.
        shuffle: reshuffle the training order every epoch (seeded).
        order: training order before shuffling: ``"numeric"`` (IR2 before
            IR10) or ``"lexicographic"`` (IR1, IR10, IR100, ...: torchvision
            ``ImageFolder``'s, as the DIDFuse loader).
        num_workers: DataLoader workers.
        seed: seed of random crops and shuffling.
        download: ``prepare_data()`` fetches missing registered datasets
            (otherwise a missing dataset is an error naming the command that fetches it).
        resize_interpolation: ``"bilinear"`` or ``"nearest"`` for ``train_mode="resize"``.
        pin_memory: DataLoader ``pin_memory``.
    """

    def __init__(
        self,
        train_dataset: str | None = "flir_train",
        test_datasets: Sequence[str] = ("tno", "flir", "nir"),
        val_datasets: Sequence[str] = (),
        data_root: str | None = None,
        train_mode: str = "center_crop",
        crop_size: int = 128,
        patch_stride: int = 12,
        unpaired: bool = False,
        train_ids: IdSelection = None,
        val_ids: IdSelection | Mapping[str, IdSelection] = None,
        test_ids: IdSelection | Mapping[str, IdSelection] = None,
        batch_size: int = 24,
        shuffle: bool = False,
        order: str = "numeric",
        num_workers: int = 0,
        seed: int = 0,
        download: bool = False,
        resize_interpolation: str = "bilinear",
        pin_memory: bool = False,
        color: bool = False,
    ) -> None:
        super().__init__()
        if train_mode not in TRAIN_MODES:
            raise ValueError(f"train_mode must be one of {', '.join(TRAIN_MODES)}; got {train_mode!r}")
        if order not in ("numeric", "lexicographic"):
            raise ValueError(f"order must be 'numeric' or 'lexicographic'; got {order!r}")
        if resize_interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"resize_interpolation must be 'bilinear' or 'nearest'; got {resize_interpolation!r}")
        for name, value in (("crop_size", crop_size), ("patch_stride", patch_stride), ("batch_size", batch_size)):
            if int(value) < 1:
                raise ValueError(f"{name} must be >= 1; got {value}")
        if isinstance(test_datasets, str):
            test_datasets = [test_datasets]
        if isinstance(val_datasets, str):
            val_datasets = [val_datasets]
        self.save_hyperparameters()
        self.train_dataset_name = train_dataset
        self.test_dataset_names = [str(n) for n in test_datasets]
        self.val_dataset_names = [str(n) for n in val_datasets]
        #: names the test results are logged under (one per test dataloader)
        self.test_datasets = [dataset_label(n) for n in self.test_dataset_names]
        #: names the validation results are logged under
        self.val_datasets = [dataset_label(n) for n in self.val_dataset_names]
        self.data_train: FusionDataset | None = None
        self.data_val: list[FusionDataset] | None = None
        self.data_test: list[FusionDataset] | None = None

    # ------------------------------------------------------------ preparation
    def _registered(self) -> list[tuple[str, Any]]:
        """(name, id selection) of every registered, non-embedded dataset this module reads."""
        from .datasets import list_datasets

        known = set(list_datasets(embedded=False))
        hp = self.hparams
        used = [(self.train_dataset_name, hp.train_ids)] if self.train_dataset_name else []
        used += [(n, _ids_for(hp.val_ids, n)) for n in self.val_dataset_names]
        used += [(n, _ids_for(hp.test_ids, n)) for n in self.test_dataset_names]
        return [(n, ids) for n, ids in used if n in known]

    def prepare_data(self) -> None:
        """With ``download=True``, fetch the missing files of the registered datasets used (only
        the selected pairs where ids are given), each verified by sha256."""
        if not self.hparams.download:
            return
        from .download import download

        for name, ids in self._registered():
            download([name], data_root=self.hparams.data_root, ids=ids)

    def setup(self, stage: str | None = None) -> None:
        """Decode the images the stage needs (``fit``: train + val; ``validate``; ``test`` / ``predict``)."""
        if stage in (None, "fit") and self.data_train is None and self.train_dataset_name:
            self.data_train = self._build_train()
        if stage in (None, "fit", "validate") and self.data_val is None:
            self.data_val = [self._build_eval(n, self.hparams.val_ids) for n in self.val_dataset_names]
        if stage in (None, "test", "predict") and self.data_test is None:
            self.data_test = [self._build_eval(n, self.hparams.test_ids) for n in self.test_dataset_names]

    def _build_eval(self, name: str, ids: Any) -> FusionDataset:
        pairs = load_pairs(name, self.hparams.data_root, _ids_for(ids, name))
        return FusionDataset(decode_pairs(pairs, color=self.hparams.color), keys=("ir", "vis", "vis_rgb"), mode="full")

    def _train_samples(self) -> list[Sample]:
        name, hp = self.train_dataset_name, self.hparams
        if hp.unpaired and _is_flat_image_folder(name):
            paths = list_images(name)
            if hp.train_ids is not None:
                raise ValueError("train_ids cannot select images of a flat image folder; pass a folder of the images wanted")
            label = dataset_label(name)
            samples = [Sample((torch.from_numpy(read_image(p)),), p.stem, label, "image") for p in paths]
        else:
            pairs = load_pairs(name, hp.data_root, hp.train_ids)
            if hp.order == "lexicographic":
                pairs = sorted(pairs, key=lambda p: p.ir_path.name)
            samples = decode_pairs(pairs)
            if hp.unpaired:
                samples = [Sample((im,), s.pair_id, s.dataset, modality)
                           for s in samples for im, modality in zip(s.images, ("ir", "vis"))]
        return samples

    def _build_train(self) -> FusionDataset:
        hp = self.hparams
        samples = self._train_samples()
        if hp.train_mode == "full" and hp.batch_size > 1 and len({tuple(s.images[0].shape) for s in samples}) > 1:
            raise ValueError("train_mode='full' with batch_size > 1 needs images of one size; "
                             f"{self.train_dataset_name!r} has several: use batch_size=1 or a crop mode")
        keys = ("image",) if hp.unpaired else ("ir", "vis")
        return FusionDataset(samples, keys=keys, mode=hp.train_mode, size=hp.crop_size, stride=hp.patch_stride,
                             seed=hp.seed, interpolation=hp.resize_interpolation)

    # ------------------------------------------------------------ dataloaders
    def _loader(self, dataset: FusionDataset, batch_size: int, sampler: Sampler | None = None) -> DataLoader:
        workers = self.hparams.num_workers
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, shuffle=False, num_workers=workers,
                          persistent_workers=workers > 0, pin_memory=self.hparams.pin_memory)

    def _need(self, attribute: str, stage: str) -> Any:
        data = getattr(self, attribute)
        if data is None:
            self.setup(stage)
            data = getattr(self, attribute)
        return data

    def train_dataloader(self) -> DataLoader:
        """Training batches of ``batch_size`` (the last one may be smaller)."""
        if not self.train_dataset_name:
            raise ValueError("FusionDataModule: no train_dataset given")
        data = self._need("data_train", "fit")
        sampler = EpochSampler(len(data), shuffle=self.hparams.shuffle, seed=self.hparams.seed)
        return self._loader(data, self.hparams.batch_size, sampler)

    def val_dataloader(self) -> list[DataLoader]:
        """One full-size, batch-1 loader per validation set (an empty list when there is none)."""
        return [self._loader(d, 1) for d in self._need("data_val", "validate")]

    def test_dataloader(self) -> list[DataLoader]:
        """One full-size, batch-1 loader per test set, in ``test_datasets`` order."""
        return [self._loader(d, 1) for d in self._need("data_test", "test")]

    def predict_dataloader(self) -> list[DataLoader]:
        """The test sets again, for ``Trainer.predict`` (fused images named by ``pair_id``)."""
        return self.test_dataloader()


def _is_flat_image_folder(name: str | os.PathLike) -> bool:
    """A folder that is not a pair folder (no layout of :func:`datamodules.folders.find_layout` fits it)."""
    try:
        get_dataset(str(name))
        return False
    except KeyError:
        pass
    folder = Path(name).expanduser()
    if not folder.is_dir():
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the pair reader warns again, if it is one
            find_layout(folder)
    except DatasetError:
        return True
    return False
