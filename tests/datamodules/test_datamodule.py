"""FusionDataModule on real pairs: shapes, ranges, modes, order and determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from datamodules import FusionDataModule, load_pairs, read_pair
from datamodules import transforms as T
from datamodules.color import rgb_to_ycbcr_tensor, to_levels
from datamodules.datamodule import EpochSampler
from datamodules.io import to_tensor


def _module(data_root, **kwargs) -> FusionDataModule:
    options = dict(train_dataset="flir_train", test_datasets=(), data_root=str(data_root), train_ids="1-6",
                   batch_size=4)
    options.update(kwargs)
    dm = FusionDataModule(**options)
    dm.setup("fit")
    return dm


def _epochs(dm: FusionDataModule, count: int = 2) -> list[list[dict]]:
    loader = dm.train_dataloader()
    out = []
    for epoch in range(count):
        loader.sampler.set_epoch(epoch)  # what Lightning does before each epoch
        out.append(list(loader))
    return out


def test_center_crop_batches_are_the_didfuse_protocol(data_root):
    dm = _module(data_root)
    batches = list(dm.train_dataloader())
    assert [len(b["pair_id"]) for b in batches] == [4, 2]
    first = batches[0]
    assert set(first) == {"ir", "vis", "pair_id", "dataset", "modality"}
    assert first["ir"].shape == first["vis"].shape == (4, 1, 128, 128)
    assert first["ir"].dtype == torch.float32 and 0 <= first["ir"].min() and first["vis"].max() <= 1
    assert first["pair_id"] == ["1", "2", "3", "4"] and first["dataset"] == ["flir_train"] * 4
    ir, vis = read_pair(load_pairs("flir_train", data_root, ids="1")[0])  # VIS1 is RGB: gray after crop
    assert torch.equal(first["ir"][0], T.center_crop(to_tensor(ir), 128))
    assert torch.equal(first["vis"][0], T.center_crop(to_tensor(vis), 128))
    again = list(dm.train_dataloader())  # shuffle=False: the same batches every epoch
    assert all(torch.equal(a["ir"], b["ir"]) for a, b in zip(batches, again))
    assert dm.hparams.train_mode == "center_crop" and dm.hparams.crop_size == 128  # recorded for checkpoints


def test_lexicographic_order_is_imagefolder_order(data_root):
    dm = _module(data_root, train_ids="1-12", order="lexicographic", batch_size=12)
    batch = next(iter(dm.train_dataloader()))
    assert batch["pair_id"] == ["1", "10", "11", "12", "2", "3", "4", "5", "6", "7", "8", "9"]


def test_random_crops_are_seeded_and_change_every_epoch(data_root):
    one, two = (_epochs(_module(data_root, train_mode="random_crop", crop_size=96, shuffle=True, seed=7))
                for _ in range(2))
    for epoch_a, epoch_b in zip(one, two):
        for a, b in zip(epoch_a, epoch_b):
            assert a["pair_id"] == b["pair_id"] and torch.equal(a["ir"], b["ir"]) and torch.equal(a["vis"], b["vis"])
    ids = lambda epoch: [i for b in epoch for i in b["pair_id"]]  # noqa: E731
    assert sorted(ids(one[0])) == sorted(ids(one[1])) and ids(one[0]) != ids(one[1])  # reshuffled
    other = _epochs(_module(data_root, train_mode="random_crop", crop_size=96, shuffle=True, seed=8), 1)[0]
    assert not all(torch.equal(a["ir"], b["ir"]) for a, b in zip(one[0], other))
    # the crop is the dataset's window of the pair's images, the same for IR and VIS
    dm = _module(data_root, train_mode="random_crop", crop_size=96, seed=7)
    batch = _epochs(dm, 2)[1][0]
    top, left = dm.data_train.random_window(len(dm.data_train) * 1 + 0)  # epoch 1, item 0
    assert (top, left) != dm.data_train.random_window(0)
    ir, vis = (to_tensor(x) for x in read_pair(load_pairs("flir_train", data_root, ids="1")[0]))
    assert torch.equal(batch["ir"][0], ir[:, top:top + 96, left:left + 96])
    assert torch.equal(batch["vis"][0], vis[:, top:top + 96, left:left + 96])


def test_workers_give_the_same_batches(data_root):
    serial = _epochs(_module(data_root, train_mode="random_crop", crop_size=64, shuffle=True), 1)[0]
    parallel = _epochs(_module(data_root, train_mode="random_crop", crop_size=64, shuffle=True, num_workers=2), 1)[0]
    assert all(torch.equal(a["ir"], b["ir"]) and a["pair_id"] == b["pair_id"] for a, b in zip(serial, parallel))


def test_patch_mode_counts_and_shuffles(data_root):
    dm = _module(data_root, train_dataset="sample_tno", train_ids=None, train_mode="patches", crop_size=128,
                 patch_stride=64, batch_size=8, shuffle=True)
    # sample_tno: 280x280, 256x256, 280x280 -> 3x3 + 3x3 + 3x3 windows of 128 at stride 64
    assert len(dm.data_train) == sum(T.patch_count(s, s, 128, 64) for s in (280, 256, 280)) == 27
    epochs = _epochs(dm)
    assert sum(len(b["pair_id"]) for b in epochs[0]) == 27 and epochs[0][0]["ir"].shape == (8, 1, 128, 128)
    assert not torch.equal(epochs[0][0]["ir"], epochs[1][0]["ir"])
    order = [i for b in epochs[0] for i in b["pair_id"]]
    assert sorted(order) == sorted(["5"] * 9 + ["8"] * 9 + ["10"] * 9)


def test_resize_and_full_modes(data_root):
    dm = _module(data_root, train_dataset="sample_flir", train_ids=None, train_mode="resize", crop_size=64,
                 resize_interpolation="nearest")
    batch = next(iter(dm.train_dataloader()))
    assert batch["ir"].shape == (3, 1, 64, 64)
    with pytest.raises(ValueError, match="batch_size=1"):
        _module(data_root, train_dataset="sample_flir", train_ids=None, train_mode="full")
    dm = _module(data_root, train_dataset="sample_flir", train_ids=None, train_mode="full", batch_size=1)
    shapes = [tuple(b["ir"].shape[-2:]) for b in dm.train_dataloader()]
    assert shapes[0] == (211, 447) and len(set(shapes)) == 3


def test_unpaired_images_from_pairs_and_from_a_flat_folder(tmp_path, data_root):
    dm = _module(data_root, train_dataset="sample_flir", train_ids=None, unpaired=True, batch_size=6)
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"image", "pair_id", "dataset", "modality"} and batch["image"].shape == (6, 1, 128, 128)
    assert batch["modality"] == ["ir", "vis"] * 3 and batch["pair_id"][:2] == ["14", "14"]
    for k in (1, 2, 3):
        (tmp_path / f"frame_{k}.jpg").symlink_to(Path(data_root) / f"IVIF-DIDFuse/Datasets/Train_data_FLIR/VIS/VIS/VIS{k}.jpg")
    dm = _module(data_root, train_dataset=str(tmp_path), train_ids=None, unpaired=True, train_mode="resize",
                 crop_size=32)
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (3, 1, 32, 32) and batch["pair_id"] == ["frame_1", "frame_2", "frame_3"]


def test_test_and_predict_loaders_full_size_batch_one(data_root):
    dm = FusionDataModule(train_dataset=None, test_datasets=["sample_tno", "flir"], data_root=str(data_root),
                          test_ids={"flir": "2-3"})
    dm.setup("test")
    assert dm.test_datasets == ["sample_tno", "flir"]
    loaders = dm.test_dataloader()
    assert [len(loader) for loader in loaders] == [3, 2]
    batch = next(iter(loaders[1]))
    ir, vis = read_pair(load_pairs("flir", data_root, ids="2")[0])
    assert batch["pair_id"] == ["2"] and batch["dataset"] == ["flir"]
    assert torch.equal(batch["ir"][0], to_tensor(ir)) and torch.equal(batch["vis"][0], to_tensor(vis))
    assert [len(loader) for loader in dm.predict_dataloader()] == [3, 2]
    assert dm.val_dataloader() == []


def test_missing_dataset_names_the_fix(tmp_path):
    dm = FusionDataModule(train_dataset="flir_train", test_datasets=["tno"], data_root=str(tmp_path / "void"))
    dm.prepare_data()  # download=False: nothing fetched
    with pytest.raises(FileNotFoundError, match="ivif-bench data download flir_train --data-root"):
        dm.setup("fit")
    with pytest.raises(ValueError, match="train_mode"):
        FusionDataModule(train_mode="crop")


def test_epoch_sampler_passes_the_epoch():
    sampler = EpochSampler(4, shuffle=False)
    assert list(sampler) == [0, 1, 2, 3] and list(sampler) == [4, 5, 6, 7]
    sampler.set_epoch(5)
    assert list(sampler) == [20, 21, 22, 23]
    shuffled = EpochSampler(4, shuffle=True, seed=3)
    shuffled.set_epoch(2)
    first = list(shuffled)
    shuffled.set_epoch(2)
    assert list(shuffled) == first and sorted(i - 8 for i in first) == [0, 1, 2, 3]


def test_color_test_sets_carry_the_visible_rgb_beside_its_y(data_root):
    dm = FusionDataModule(train_dataset=None, test_datasets=["vifb", "sample_tno"], test_ids={"vifb": "fight,kettle"},
                          data_root=str(data_root), color=True)
    dm.setup("test")
    vifb, tno = dm.test_dataloader()
    batch = next(iter(vifb))
    assert batch["pair_id"] == ["fight"] and batch["vis_rgb"].shape == (1, 3, *batch["vis"].shape[-2:])
    pair = load_pairs("vifb", data_root, ids="fight")[0]
    rgb = torch.from_numpy(np.array(Image.open(pair.vis_path))).permute(2, 0, 1).float() / 255
    assert torch.equal(batch["vis_rgb"][0], rgb)
    luma = np.array(Image.open(pair.vis_path).convert("L"))
    assert torch.equal(batch["vis"][0, 0], torch.from_numpy(luma).float() / 255)  # the network's input is Y = PIL "L"
    assert torch.equal(rgb_to_ycbcr_tensor(to_levels(batch["vis_rgb"]))[:, :1], to_levels(batch["vis"]))
    assert "vis_rgb" not in next(iter(tno))  # a gray set stays gray, batch for batch as before
    gray = FusionDataModule(train_dataset=None, test_datasets=["vifb"], test_ids="fight", data_root=str(data_root))
    gray_batch = next(iter(gray.test_dataloader()[0]))
    assert set(gray_batch) == {"ir", "vis", "pair_id", "dataset", "modality"}
    assert torch.equal(gray_batch["vis"], batch["vis"]) and torch.equal(gray_batch["ir"], batch["ir"])
