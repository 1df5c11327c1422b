"""Evaluate fused images: a folder against a dataset's source pairs, or tensors in memory.

Both return a long table, one row per (dataset, image, metric), with columns
``dataset, image, metric, value, convention, color_rule`` (``image`` is the pair id;
``color_rule`` the colour rule applied to that image, :mod:`metrics.color`, or ``gray``
where fused image and sources were all gray).

Fused images are evaluated from their 8-bit values, as every reference does: a
folder's files are read with their own channels, as MATLAB's ``imread``
(:func:`datamodules.io.read_image` ``mode="native"``: a gray file H x W, a colour one
H x W x 3), and each convention's colour rule decides what colour means (VIFB per
channel, tang / cddfuse their codes' gray conversions, default PIL "L", the networks' Y); a rule
that turns colour into gray says so once per call (a ``UserWarning``). In-memory images
should be quantised first (:func:`datamodules.io.quantize_8bit`). Images of different
sizes are evaluated one at a time, so no padding ever enters a statistic.

Example:
    >>> import torch
    >>> from metrics.evaluate import evaluate_tensors
    >>> g = torch.Generator().manual_seed(0)
    >>> f, a, b = (torch.rand(2, 1, 16, 16, generator=g) for _ in range(3))
    >>> table = evaluate_tensors(f, a, b, metrics="EN,SD", image_ids=["1", "2"], dataset="demo")
    >>> list(table.columns)
    ['dataset', 'image', 'metric', 'value', 'convention', 'color_rule']
    >>> len(table)
    4
"""

from __future__ import annotations

import os
import re
import string
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from datamodules.errors import DataNotFoundError, UnknownNameError, UserError

from .color import applied_rule, conversion_notice
from .registry import MetricInfo, get_metric_info, list_conventions, list_metrics

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "evaluate_folder", "evaluate_folder_rows", "evaluate_tensors", "match_fused_files", "mean_table",
           "means_by_convention"]

COLUMNS = ["dataset", "image", "metric", "value", "convention", "color_rule"]
_LIST_LIMIT = 8  # file names listed in an error message before "..."


# ---- arguments --------------------------------------------------------------------------------------

def _metric_infos(metrics: str | Iterable[str] | None, convention: str) -> list[MetricInfo]:
    """Resolve ``"all"`` / ``"EN,MI"`` / a list to registry entries (``KeyError`` naming an unknown one).

    ``convention="all"``: the entries of every convention, convention by convention; a named
    metric is taken from each convention that has it (``KeyError`` if none has it).
    ``NAME:CONVENTION`` names one convention's metric whatever ``convention`` says
    (``"EN,MSE:tang"``: default EN and tang's MSE), in the order given.
    """
    if metrics is None or metrics == "all":
        names = None
    elif isinstance(metrics, str):
        names = [name.strip() for name in metrics.split(",") if name.strip()]
    else:
        names = list(metrics)
    if names and any(":" in name for name in names):
        if convention == "all":
            raise UserError(f"--metrics {','.join(names)!r} names conventions itself: leave --convention out")
        pairs = [name.split(":", 1) if ":" in name else (name, convention) for name in names]
        return [get_metric_info(name.strip(), each.strip()) for name, each in dict.fromkeys(map(tuple, pairs))]
    if convention == "all":
        plans = [get_metric_info(name, each) for each in list_conventions()
                 for name in (list_metrics(each) if names is None else dict.fromkeys(names))
                 if name in list_metrics(each)]
        unknown = [name for name in names or [] if name not in {info.name for info in plans}]
        if unknown or not plans:
            raise UnknownNameError(f"no convention has the metric(s) {', '.join(unknown) or metrics!r}; known: "
                           f"{', '.join(dict.fromkeys(n for c in list_conventions() for n in list_metrics(c)))}")
        return plans
    available = list_metrics(convention)  # KeyError for an unknown convention
    names = available if names is None else names
    if not names:
        raise UserError(f"no metric selected (metrics={metrics!r}); choose from: {', '.join(available)}")
    return [get_metric_info(name, convention) for name in dict.fromkeys(names)]


def _device(device: str | torch.device) -> torch.device:
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {str(device)!r}: CUDA is not available on this machine")
    return device


def _check_pattern(pattern: str) -> None:
    fields = [field for _, field, _, _ in string.Formatter().parse(pattern) if field is not None]
    if fields != ["id"] or os.sep in pattern or "/" in pattern:
        raise UserError(f"--pattern {pattern!r} must name a file stem with exactly one '{{id}}' field "
                         f"(e.g. 'F{{id}}' for F7.png), no folder and no other field")


def _listing(names: Sequence[str]) -> str:
    """The first few names, then "... (N in all)"."""
    shown = ", ".join(names[:_LIST_LIMIT])
    return shown + (f" ... ({len(names)} in all)" if len(names) > _LIST_LIMIT else "")


# ---- a folder of fused images -----------------------------------------------------------------------

def match_fused_files(fused_dir: str | os.PathLike, pair_ids: Sequence[str], pattern: str = "{id}",
                      all_ids: Iterable[str] | None = None) -> dict[str, Path]:
    """Map each pair id to its fused file ``pattern.format(id=pair_id)`` + an image extension.

    Checks the whole folder before any work and raises one ``ValueError`` naming
    the files for: missing fused files, two files for one pair (``F1.png`` and
    ``F1.bmp``), and files named like the pattern whose id is not a pair of the
    dataset (``F41.png`` for the 40 TNO pairs: a wrong ``--dataset`` or
    ``--pattern``). Files of pairs outside the selection (``--ids``) are skipped;
    other images (not named like the pattern) are listed in a warning.

    Args:
        fused_dir: the folder of fused images (not searched recursively).
        pair_ids: the ids to evaluate.
        pattern: file stem of a pair's fused image, with one ``{id}`` field.
        all_ids: every pair id of the dataset (default ``pair_ids``).

    Returns:
        pair id -> fused image path, in the order of ``pair_ids``.
    """
    from datamodules.datasets import IMAGE_EXTENSIONS, natural_key

    _check_pattern(pattern)
    folder = Path(fused_dir)
    if not folder.is_dir():
        raise DataNotFoundError(f"{folder}: no such folder of fused images")
    images = sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
                    key=lambda p: natural_key(p.name))
    by_stem: dict[str, list[Path]] = {}
    for path in images:
        by_stem.setdefault(path.stem, []).append(path)

    found: dict[str, Path] = {}
    missing, ambiguous = [], []
    for pair_id in pair_ids:
        candidates = by_stem.get(pattern.format(id=pair_id), [])
        if len(candidates) > 1:
            ambiguous.append(" and ".join(p.name for p in candidates))
        elif candidates:
            found[pair_id] = candidates[0]
        else:
            missing.append(f"{pattern.format(id=pair_id)}.*")

    all_ids = set(pair_ids if all_ids is None else all_ids)
    numeric = all(i.isdigit() for i in all_ids)
    prefix, _, suffix = pattern.partition("{id}")
    like_pattern = re.compile(re.escape(prefix) + (r"(\d+)" if numeric else r"(.+)") + re.escape(suffix))
    selected_stems = {pattern.format(id=pair_id) for pair_id in pair_ids}
    unknown, other = [], []
    for path in images:
        if path.stem in selected_stems:
            continue
        match = like_pattern.fullmatch(path.stem)
        if match is None:
            other.append(path.name)
        elif match[1] not in all_ids:
            unknown.append(path.name)

    problems = []
    if missing:
        hint = (f" (the folder holds {_listing([p.name for p in images][:3])}: set the pattern, "
                f"e.g. --pattern 'F{{id}}' for F7.png)" if len(missing) == len(pair_ids) and images else "")
        problems.append(f"{len(missing)} fused image(s) missing: {_listing(missing)}{hint}")
    if ambiguous:
        problems.append(f"two files for one pair: {'; '.join(ambiguous[:_LIST_LIMIT])}")
    if unknown:
        problems.append(f"{len(unknown)} file(s) named like '{pattern}' match no pair of the dataset: "
                        f"{_listing(unknown)} (wrong --dataset or --pattern?)")
    if problems:
        raise UserError(f"{folder}: " + "; ".join(problems))
    if other:
        warnings.warn(f"{folder}: ignored {len(other)} image(s) not named like '{pattern}': {_listing(other)}",
                      stacklevel=2)
    return {pair_id: found[pair_id] for pair_id in pair_ids}


def _image_size(path: Path) -> tuple[int, int]:
    """(height, width) from the file header, without decoding."""
    from datamodules.io import ImageReadError

    try:
        with Image.open(path) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError) as err:
        raise ImageReadError(f"{path}: not an image file PIL can read ({err})") from None
    return height, width


def _check_sizes(pairs, fused: dict[str, Path]) -> list[int]:
    """One ``ValueError`` naming every fused image whose size differs from its IR source; else each pair's pixels."""
    mismatched, pixels = [], []
    for pair in pairs:
        f_size, ir_size = _image_size(fused[pair.pair_id]), _image_size(pair.ir_path)
        pixels.append(f_size[0] * f_size[1])
        if f_size != ir_size:
            mismatched.append(f"{fused[pair.pair_id]} is {f_size[1]}x{f_size[0]} but {pair.ir_path} is "
                              f"{ir_size[1]}x{ir_size[0]} (W x H)")
    if mismatched:
        raise UserError(f"{len(mismatched)} fused image(s) differ in size from their pair: "
                         + "; ".join(mismatched[:_LIST_LIMIT]) + (" ..." if len(mismatched) > _LIST_LIMIT else ""))
    return pixels


def _read_triplet(fused_path: Path, pair) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fused, IR and VIS images of one pair as uint8 with their own channels (H x W or H x W x 3);
    ``UserError`` if they decode to different sizes."""
    from datamodules.datasets import read_pair
    from datamodules.io import read_image

    fused_u8 = read_image(fused_path, mode="native")
    ir_u8, vis_u8 = _read_sources(pair, read_pair, read_image)
    if fused_u8.shape[:2] != ir_u8.shape[:2]:  # the header said otherwise (e.g. EXIF-rotated JPEG)
        raise UserError(f"{fused_path} decodes to {fused_u8.shape[1]}x{fused_u8.shape[0]} but "
                        f"{pair.ir_path} to {ir_u8.shape[1]}x{ir_u8.shape[0]} (W x H)")
    return fused_u8, ir_u8, vis_u8


def evaluate_folder(fused_dir: str | os.PathLike, dataset: str | os.PathLike,
                    data_root: str | os.PathLike | None = None, pattern: str = "{id}",
                    ids: str | Iterable[str | int] | None = None,
                    metrics: str | Iterable[str] | None = "all", convention: str = "default",
                    device: str | torch.device = "cpu", progress: bool = True, *, workers: int = 1,
                    out: str | os.PathLike | None = None, batch_size: int = 8) -> "pd.DataFrame":
    """Evaluate a folder of fused images against a dataset's source pairs.

    Everything is checked before any metric runs (metric names, convention,
    device, ``out``, missing / extra / ambiguous fused files, sizes; see
    :func:`match_fused_files`); the sources come from
    :func:`datamodules.load_pairs` / :func:`datamodules.read_pair`.

    Args:
        fused_dir: folder of fused images, one per pair, named ``pattern.format(id=pair_id)``
            plus an image extension (png, bmp, jpg, tif).
        dataset: a registered dataset name (``"tno"``) or a dataset folder.
        data_root: where registered datasets live (default: ``$IVIF_BENCH_DATA``, else the user cache).
        pattern: fused file stem with an ``{id}`` field (``"F{id}"`` for the DIDFuse outputs).
        ids: a subset of pair ids (``"1-16,20"`` or a list); ``None`` = all.
        metrics: ``"all"``, ``"EN,MI"`` or a list of names.
        convention: the metric convention (``"default"``, ``"vifb"``, ``"cddfuse"``, ``"tang"``), or
            ``"all"``: every convention's metrics, one row per (image, metric, convention).
        device: where the metrics run (``"cpu"``, ``"cuda"``); float64 on CPU, float32 on GPU
            (same-size images ``batch_size`` at a time).
        progress: show a progress bar (stderr).
        workers: worker processes, one image each at a time (CPU only). Every image is
            computed on one CPU thread whatever ``workers`` is, so the values do not depend on it.
        out: also write the rows to this CSV file: per image to ``<out>.partial`` as each
            finishes, the CSV atomically at the end. A rerun after an interruption resumes
            from the partial file (:mod:`metrics.results_log`).

    Returns:
        DataFrame with columns ``dataset, image, metric, value, convention, color_rule``, one row per
        (image, metric), images in pair-id order, metrics in the requested order.
    """
    import pandas as pd

    rows = evaluate_folder_rows(fused_dir, dataset, data_root=data_root, pattern=pattern, ids=ids, metrics=metrics,
                                convention=convention, device=device, progress=progress, workers=workers, out=out,
                                batch_size=batch_size)
    return pd.DataFrame(rows, columns=COLUMNS)


def evaluate_folder_rows(fused_dir: str | os.PathLike, dataset: str | os.PathLike,
                         data_root: str | os.PathLike | None = None, pattern: str = "{id}",
                         ids: str | Iterable[str | int] | None = None,
                         metrics: str | Iterable[str] | None = "all", convention: str = "default",
                         device: str | torch.device = "cpu", progress: bool = True, *, workers: int = 1,
                         out: str | os.PathLike | None = None, batch_size: int = 8,
                         report: Callable[[str], None] | None = None) -> list[tuple]:
    """:func:`evaluate_folder` as ``(dataset, image, metric, value, convention, color_rule)`` tuples (no pandas).

    ``report`` receives one-line notes for the user (e.g. how many images a resumed run found done).
    On an accelerator (``device="cuda"``) same-size images are evaluated ``batch_size`` at a time in
    float32 (values within :func:`metrics.engine.float32_tolerance` of the CPU's float64).
    """
    from functools import partial

    from datamodules.datasets import dataset_ids, dataset_label, list_datasets, load_pairs

    from .engine import Job, JobRunner, Notice as _Notice
    from .results_log import PartialResults, check_output_file, write_csv

    _check_pattern(pattern)
    if out is not None:
        out = check_output_file(out)
    infos = _metric_infos(metrics, convention)
    device = _device(device)
    if workers < 1:
        raise UserError(f"--workers must be at least 1, got {workers}")
    if workers > 1 and device.type != "cpu":
        raise UserError(f"--workers {workers} is for CPU evaluation; on {device.type} the images run one by one")
    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {batch_size}")
    pairs = load_pairs(dataset, data_root=data_root, ids=ids)
    if str(dataset) in list_datasets():
        all_ids = dataset_ids(str(dataset))
    else:
        all_ids = [p.pair_id for p in (pairs if ids is None else load_pairs(dataset, data_root=data_root))]
    fused = match_fused_files(fused_dir, [p.pair_id for p in pairs], pattern, all_ids)
    sizes = _check_sizes(pairs, fused)

    label = dataset_label(dataset)
    keys = [(info.name, info.convention) for info in infos]
    files = {p.pair_id: (fused[p.pair_id], p.ir_path, p.vis_path) for p in pairs}
    values: dict[str, list] = {}  # pair id -> per metric (value, colour rule applied)
    said: set = set()
    log = None
    if out is not None:
        log = PartialResults(out, {"fused_dir": str(Path(fused_dir).resolve()), "dataset": label,
                                   "pattern": pattern, "ids": [p.pair_id for p in pairs],
                                   "metrics": [list(k) for k in keys], "device": str(device)})
        for pair in pairs:
            stored = log.done(pair.pair_id, files[pair.pair_id])
            if stored is not None and len(stored) == len(keys):
                values[pair.pair_id] = stored
        if values and report is not None:
            report(f"resuming: {len(values)} of {len(pairs)} images already done in {log.path}")
    jobs = [Job(i, p.pair_id, partial(_read_triplet, fused[p.pair_id], p), sizes[i])
            for i, p in enumerate(pairs) if p.pair_id not in values]
    try:
        batch = batch_size if device.type != "cpu" else 1
        with JobRunner(keys, workers=workers, device=str(device), jobs=len(jobs), batch_size=batch) as runner, \
                _progress_bar(progress, len(pairs), f"evaluating {label}", done=len(values)) as advance:
            for job, result, caught in runner.run(jobs):
                for category, message in caught:
                    if category is _Notice:  # a colour rule turning colour into gray: once per evaluation
                        if message not in said:
                            said.add(message)
                            warnings.warn(message, UserWarning, stacklevel=2)
                        continue
                    warnings.warn(f"{label} {job.image_id}: {message}", category, stacklevel=2)
                values[job.image_id] = result
                if log is not None:
                    log.append(job.image_id, files[job.image_id], result)
                advance()
    except KeyboardInterrupt:
        if log is not None:
            log.close()
            raise KeyboardInterrupt(f"interrupted after {len(values)} of {len(pairs)} images; their rows are in "
                                    f"{log.path}: run the same command again to resume") from None
        raise
    rows = [(label, p.pair_id, info.name, value, info.convention, rule)
            for p in pairs for info, (value, rule) in zip(infos, values[p.pair_id])]
    if log is not None:
        write_csv(out, COLUMNS, rows)
        log.remove()
    return rows


def _read_sources(pair, read_pair, read_image) -> tuple[np.ndarray, np.ndarray]:
    """A pair's IR and VIS as uint8 with their own channels (H x W or H x W x 3), one size.

    A pair whose VIS is resized to the IR (``pair.resize_vis``) is read as gray by
    :func:`datamodules.read_pair`, as the networks see it.
    """
    from datamodules.datasets import DatasetError

    if pair.resize_vis:
        return read_pair(pair)
    ir, vis = read_image(pair.ir_path, mode="native"), read_image(pair.vis_path, mode="native")
    if ir.shape[:2] != vis.shape[:2]:
        raise DatasetError(f"{pair.ir_path} is {ir.shape[1]}x{ir.shape[0]} but {pair.vis_path} is "
                           f"{vis.shape[1]}x{vis.shape[0]} (W x H): a pair must have one size")
    return ir, vis


# ---- tensors in memory --------------------------------------------------------------------------------

def _from_uint8(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 H x W (or H x W x 3) -> 1 x 1 (or 3) x H x W in [0, 1]: float64 (exact 8-bit levels) on CPU,
    float32 elsewhere."""
    dtype = torch.float64 if device.type == "cpu" else torch.float32
    tensor = torch.from_numpy(np.ascontiguousarray(image)).to(device=device, dtype=dtype).div(255)
    return tensor.permute(2, 0, 1).unsqueeze(0) if tensor.ndim == 3 else tensor.view(1, 1, *image.shape)


def _say_conversions(infos: list[MetricInfo], images: Sequence[torch.Tensor], said: set) -> None:
    """Warn once per (convention, message) that a colour rule turns colour into gray."""
    for info in infos:
        notice = conversion_notice(info.color_rule, info.convention, *images)
        if notice is not None and notice not in said:
            said.add(notice)
            warnings.warn(notice, UserWarning, stacklevel=3)


def _as_list(images, name: str) -> list[torch.Tensor]:
    """A batch N x C x H x W -> [batch]; a sequence of images (H x W, C x H x W or 1 x C x H x W, C in {1, 3})
    -> one each."""
    if isinstance(images, torch.Tensor):
        if images.ndim != 4:
            raise ValueError(f"{name} must be a batch N x C x H x W or a list of images, "
                             f"got shape {tuple(images.shape)}")
        return [images]
    out = []
    for i, image in enumerate(images):
        if not isinstance(image, torch.Tensor):
            raise ValueError(f"{name}[{i}] must be a torch.Tensor, got {type(image).__name__}")
        channels = 1 if image.ndim == 2 else image.shape[-3]
        if (image.ndim not in (2, 3, 4) or channels not in (1, 3)
                or image.numel() != channels * image.shape[-2] * image.shape[-1]):
            raise ValueError(f"{name}[{i}] must be one image H x W, C x H x W or 1 x C x H x W (C = 1 or 3), "
                             f"got shape {tuple(image.shape)}")
        out.append(image.reshape(1, channels, *image.shape[-2:]))
    return out


def evaluate_tensors(fused, ir, vis, *, metrics: str | Iterable[str] | None = "all", convention: str = "default",
                     image_ids: Sequence[str] | None = None, dataset: str = "",
                     device: str | torch.device | None = None) -> "pd.DataFrame":
    """Evaluate in-memory fused images against their sources.

    Args:
        fused, ir, vis: each a tensor N x C x H x W in [0, 1], C = 1 or 3 (evaluated as one
            batch), or a sequence of images 1 x C x H x W, C x H x W or H x W (each image on
            its own, so sizes may differ). Colour follows each convention's colour rule
            (:mod:`metrics.color`). Quantise fused images to 8 bits first to match a folder
            evaluation.
        metrics: ``"all"``, ``"EN,MI"`` or a list of names.
        convention: the metric convention, or ``"all"`` (every convention).
        image_ids: one id per image (default ``"0"``, ``"1"``, ...).
        dataset: the ``dataset`` column.
        device: move the images there first (default: where they are).

    Returns:
        DataFrame with columns ``dataset, image, metric, value, convention, color_rule``.

    Raises:
        ValueError: inputs that do not line up, or bad images (named by the metric checks).
    """
    infos = _metric_infos(metrics, convention)
    chunks = [_as_list(x, name) for x, name in ((fused, "fused"), (ir, "ir"), (vis, "vis"))]
    counts = [[c.shape[0] for c in chunk] for chunk in chunks]
    if not counts[0] == counts[1] == counts[2]:
        raise ValueError(f"fused, ir and vis hold different numbers of images: "
                         f"{sum(counts[0])}, {sum(counts[1])}, {sum(counts[2])}")
    total = sum(counts[0])
    ids = [str(i) for i in range(total)] if image_ids is None else [str(i) for i in image_ids]
    if len(ids) != total:
        raise ValueError(f"image_ids has {len(ids)} ids for {total} images")
    target = None if device is None else _device(device)
    frames, start, said = [], 0, set()
    for f, a, b in zip(*chunks):
        if target is not None:
            f, a, b = f.to(target), a.to(target), b.to(target)
        _say_conversions(infos, (f, a, b), said)
        frames.append(_rows(f, a, b, infos, ids[start:start + f.shape[0]], dataset))
        start += f.shape[0]
    return _concat(frames)


# ---- shared -------------------------------------------------------------------------------------------

def _rows(fused: torch.Tensor, ir: torch.Tensor, vis: torch.Tensor, infos: list[MetricInfo], ids: list[str],
          dataset: str) -> "pd.DataFrame":
    """Every metric of ``infos`` on one batch, as long-table rows (image-major). Warnings name the images."""
    import pandas as pd

    from .degenerate import guarded, warn_degenerate
    from .engine import check_memory, resolve_plan
    from .functional._shared import release, release_schedule, shared_work

    check_memory(resolve_plan([(info.name, info.convention) for info in infos]), *fused.shape[-2:],
                 image=f"{dataset or 'images'} {ids[0]}" + (f" (and {len(ids) - 1} more)" if len(ids) > 1 else ""),
                 count=fused.shape[0], device=fused.device)
    values = []
    with shared_work():
        for info, names in zip(infos, release_schedule([info.functional for info in infos])):
            name = f"{info.name} ({info.convention})"
            with torch.no_grad():
                result, reasons = guarded(info.functional, info.color_rule, fused, ir, vis, name=name, **info.options)
            for image_id, why in zip(ids, reasons):  # one warning per (image, metric)
                warn_degenerate(f"{dataset or 'images'} {image_id}", name, why, stacklevel=3)
            values.append(result.detach().to("cpu", torch.float64).numpy())
            release(*names)  # its last declared reader has run
    table = np.stack(values, axis=1)  # images x metrics
    return pd.DataFrame({
        "dataset": dataset,
        "image": np.repeat(ids, len(infos)),
        "metric": [info.name for info in infos] * len(ids),
        "value": table.reshape(-1),
        "convention": [info.convention for info in infos] * len(ids),
        "color_rule": [applied_rule(info.color_rule, fused, ir, vis) for info in infos] * len(ids),
    }, columns=COLUMNS)


def _concat(frames: list["pd.DataFrame"]) -> "pd.DataFrame":
    import pandas as pd

    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)


class _progress_bar:
    """A rich progress bar on stderr (or nothing); ``with _progress_bar(on, total, text) as advance``."""

    def __init__(self, enabled: bool, total: int, description: str, done: int = 0) -> None:
        self.enabled, self.total, self.description, self.done = enabled, total, description, done
        self.progress = None

    def __enter__(self):
        if not self.enabled:
            return lambda: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self.progress.__enter__()
        task = self.progress.add_task(self.description, total=self.total, completed=self.done)
        return lambda: self.progress.advance(task)

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)


def mean_table(results: "pd.DataFrame") -> "pd.DataFrame":
    """Means per dataset (rows) and metric (columns, in first-seen order) of a results table.

    A NaN value (a metric undefined for an image, reported with a warning) makes its mean NaN.
    """
    order = list(dict.fromkeys(results["metric"]))
    means = results.groupby(["dataset", "metric"], sort=False)["value"].agg(lambda v: v.mean(skipna=False))
    return means.unstack("metric")[order]


def means_by_convention(rows: Iterable[Sequence]) -> dict[str, dict[str, dict[str, tuple[float, int]]]]:
    """Means of ``(dataset, image, metric, value, convention, ...)`` rows without pandas.

    Returns:
        convention -> metric -> dataset -> (mean, number of images), in first-seen order.
        A NaN value makes its mean NaN (as :func:`mean_table`); the mean is numpy's
        (pairwise summation) over the values in row order, equal to :func:`mean_table`'s.
    """
    grouped: dict[str, dict[str, dict[str, list[float]]]] = {}
    for dataset, _image, metric, value, convention, *_ in rows:
        grouped.setdefault(convention, {}).setdefault(metric, {}).setdefault(dataset, []).append(value)
    return {convention: {metric: {dataset: (float(np.mean(np.asarray(v, dtype=np.float64))), len(v))
                                  for dataset, v in by_dataset.items()}
                         for metric, by_dataset in by_metric.items()}
            for convention, by_metric in grouped.items()}
