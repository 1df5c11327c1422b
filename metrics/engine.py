"""The evaluation engine: every metric of a plan on one image, one image per job, jobs in worker processes.

Images are independent, so a set is evaluated as one job per image, in this process
(``workers=1``) or in ``workers`` forked worker processes of one CPU thread each. The
values do not depend on the number of workers: every image is computed by the same
code on one thread (float64 on CPU), so ``workers=4`` gives bit for bit the values of
``workers=1``, and of the Metric classes at one thread.

Within an image, a metric computed by the same functional with the same options under
several conventions (e.g. ``Qabf`` of default, vifb, cddfuse and tang) is computed once,
and metrics that share intermediate work (SSIM and MS-SSIM, VIF and VIFP, Q, Qw and Qe)
share it (:mod:`metrics.functional._shared`): the same values, computed once.

Example:
    >>> import numpy as np
    >>> from metrics.engine import resolve_plan, image_values
    >>> plan = resolve_plan([("EN", "default"), ("SD", "default")])
    >>> images = np.zeros((3, 8, 8), dtype=np.uint8)
    >>> [(round(v, 3), rule) for v, rule in image_values(plan, *images)[0]]
    [(0.0, 'gray'), (0.0, 'gray')]
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from datamodules.errors import UserError

__all__ = ["FLOAT32_TOLERANCE", "PEAK_BYTES_PER_PIXEL", "Job", "JobRunner", "Notice", "PlanEntry", "available_memory",
           "batch_values", "check_memory", "default_workers", "float32_deviation", "float32_tolerance", "float64_only",
           "image_values", "memory_estimate", "resolve_plan"]


@dataclass(frozen=True)
class PlanEntry:
    """One (metric, convention) of a plan, resolved to its functional twin and colour rule."""

    name: str
    convention: str
    functional: Callable
    options: tuple  # sorted (key, value) pairs
    color_rule: str

    @property
    def work(self) -> tuple:
        """What decides the value: entries with equal ``work`` share one computation."""
        return (self.functional, self.options, self.color_rule)


class Notice(UserWarning):
    """A colour rule turned colour into gray (:func:`metrics.color.conversion_notice`): said once per evaluation."""


def resolve_plan(keys: Iterable[tuple[str, str]]) -> list[PlanEntry]:
    """(name, convention) pairs -> plan entries, through the metric registry (``KeyError`` for an unknown one)."""
    from .registry import get_metric_info

    entries = []
    for name, convention in keys:
        info = get_metric_info(name, convention)
        entries.append(PlanEntry(name, convention, info.functional, tuple(sorted(info.options.items())),
                                 info.color_rule))
    return entries


def _as_tensor(image: np.ndarray, device: Any, dtype: Any = None):
    """uint8 H x W (or H x W x 3) -> 1 x 1 (or 3) x H x W in [0, 1]: float64 (exact 8-bit levels) on CPU,
    float32 elsewhere."""
    import torch

    dtype = dtype or (torch.float64 if torch.device(device).type == "cpu" else torch.float32)
    tensor = torch.from_numpy(np.ascontiguousarray(image)).to(device=device, dtype=dtype).div(255)
    return tensor.permute(2, 0, 1).unsqueeze(0) if tensor.ndim == 3 else tensor.view(1, 1, *image.shape)


def _evaluate(plan: Sequence[PlanEntry], tensors: list) -> tuple[dict, list[tuple[type, str]],
                                                                  list[list[tuple[type, str]]]]:
    """The distinct works of ``plan`` on N x C x H x W tensors: {work: N values}, the colour conversions
    (as :class:`Notice`, once each), and per image its warnings: one
    :class:`~metrics.degenerate.DegenerateInputWarning` per plan entry the image is degenerate for
    (``"NAME (CONVENTION): reason"``), whatever the number of channels (:func:`metrics.degenerate.guarded`)."""
    import torch

    from .color import conversion_notice
    from .degenerate import DegenerateInputWarning, guarded
    from .functional._shared import release, release_schedule, shared_work

    done: dict[tuple, list[float]] = {}
    why: dict[tuple, list[list[str]]] = {}
    notices: list[tuple[type, str]] = []
    for entry in plan:
        notice = conversion_notice(entry.color_rule, entry.convention, *tensors)
        if notice is not None and (Notice, notice) not in notices:
            notices.append((Notice, notice))
    n = tensors[0].shape[0]
    per_image: list[list[tuple[type, str]]] = [[] for _ in range(n)]
    releases = release_schedule([entry.functional for entry in plan])
    with shared_work(), torch.no_grad():
        for entry, names in zip(plan, releases):
            if entry.work not in done:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # anything but a reason: nothing the engine reports
                    result, reasons = guarded(entry.functional, entry.color_rule, *tensors,
                                              name=f"{entry.name} ({entry.convention})", **dict(entry.options))
                done[entry.work] = result.detach().to("cpu", torch.float64).reshape(-1).tolist()
                why[entry.work] = reasons
            for i, reasons in enumerate(why[entry.work]):
                if reasons:  # once per (image, metric): every entry sharing the work says it under its own name
                    item = (DegenerateInputWarning, f"{entry.name} ({entry.convention}): " + "; ".join(reasons))
                    if item not in per_image[i]:
                        per_image[i].append(item)
            release(*names)  # its last declared reader has run: not held through the rest of the plan
    return done, notices, per_image


def image_values(plan: Sequence[PlanEntry], fused: np.ndarray, ir: np.ndarray, vis: np.ndarray,
                 device: Any = "cpu", image_id: str | None = None
                 ) -> tuple[list[tuple[float, str]], list[tuple[type, str]]]:
    """Every plan entry on one image (uint8 H x W or H x W x 3 each), in plan order.

    First :func:`check_memory`: a ``UserError`` naming ``image_id`` where the image needs more memory than is
    available.

    Returns:
        ``(values, warnings)``: per entry ``(value, colour rule applied)``; ``(category, message)``
        per distinct warning (category :class:`Notice` for a colour-to-gray conversion, else
        :class:`~metrics.degenerate.DegenerateInputWarning`, one per degenerate entry).
    """
    from .color import applied_rule

    check_memory(plan, *fused.shape[:2], image=f"image {image_id}" if image_id is not None else "the image",
                 device=device)
    tensors = [_as_tensor(x, device) for x in (fused, ir, vis)]
    done, notices, per_image = _evaluate(plan, tensors)
    return [(done[e.work][0], applied_rule(e.color_rule, *tensors)) for e in plan], notices + per_image[0]


def batch_values(plan: Sequence[PlanEntry], triplets: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
                 device: Any = "cuda", dtype: Any = None
                 ) -> tuple[list[list[tuple[float, str]]], list[list[tuple[type, str]]]]:
    """Every plan entry on a batch of same-size images (uint8, one shape), stacked N x C x H x W.

    The accelerators' path: ``device="cuda"`` computes in float32. ``dtype=torch.float32`` on
    ``device="cpu"`` runs the same float32 arithmetic on CPU (how the tests check this path);
    its values differ from float64 by at most :func:`float32_tolerance`, except the metrics whose
    tolerance is ``None`` (:func:`float64_only`: Qcb), computed in float64 from the same 8-bit values.

    Returns:
        per image, per entry ``(value, colour rule applied)``; per image its warnings (the colour
        notices, then that image's degenerate-input warnings, as :func:`image_values`).
    """
    import torch

    from .color import applied_rule
    from .functional._checks import compute_precision

    dtype = dtype or (torch.float64 if torch.device(device).type == "cpu" else torch.float32)
    check_memory(plan, *triplets[0][0].shape[:2], image="a batch", count=len(triplets), device=device)
    stacked = [torch.cat([_as_tensor(t[i], device, dtype) for t in triplets]) for i in range(3)]
    wide = [e for e in plan if float64_only(e)] if dtype != torch.float64 else []
    with compute_precision(dtype):
        done, notices, per_image = _evaluate([e for e in plan if e not in wide], stacked)
    if wide:  # float32 is not usable for these (FLOAT32_TOLERANCE None): float64, from the 8-bit values
        exact = [torch.cat([_as_tensor(t[i], device, torch.float64) for t in triplets]) for i in range(3)]
        with compute_precision(torch.float64):
            more, more_notices, more_per_image = _evaluate(wide, exact)
        done.update(more)
        notices += [item for item in more_notices if item not in notices]
        for mine, extra in zip(per_image, more_per_image):
            mine += extra
    return ([[(done[e.work][i], applied_rule(e.color_rule, *(x[i:i + 1] for x in stacked))) for e in plan]
             for i in range(len(triplets))], [notices + mine for mine in per_image])


#: How far the float32 path (:func:`batch_values` on CUDA, float32 on CPU, and the runner's metrics on a GPU)
#: may be from the float64 values: ``|float32 - float64| <= tolerance * max(|float64|, 1e-3)``
#: (:func:`float32_deviation`: relative, absolute for a value within 1e-3 of 0), looked up as
#: ``"NAME:CONVENTION"``, then ``"NAME"``, then ``"default"`` (:func:`float32_tolerance`). ``None``: float32 is not
#: usable (NaN where float64 is defined), so that metric is computed in float64 on every float32 path.
#: The one table of the project (``benchmarks/speed/gpu_check.py`` imports it). Bounds over the worst
#: deviation measured in float32 on CPU (the stand-in for CUDA), all 40 TNO pairs with the DIDFuse authors'
#: released fusions, every metric of every convention (README, "The GPU check"): SSIM 1.1e-5, every metric
#: not named here <= 4e-7; VIF (cddfuse, tang), VIFP, Qw, Qe <= 8.1e-5; VIF tang2022 1.9e-4; Qabf tang2022
#: 5.8e-3 (gradient ties on the [0, 1] scale flip in float32); VIF default 2.1e-2, Q 1.6e-2, FMI_w 1.6e-2,
#: FMI_pixel 0.17: flat-region thresholds that float32 residues cross (docs/conventions.md, "Flat regions");
#: Qcb NaN in float32 on pairs 18 and 31. CUDA's float32 rounds differently, to the same order.
FLOAT32_TOLERANCE: dict[str, float | None] = {
    "default": 1e-4, "VIF": 2e-4, "VIFP": 2e-4, "Qw": 2e-4, "Qe": 2e-4, "VIF:tang2022": 5e-4,
    "Qabf:tang2022": 2e-2, "VIF:default": 5e-2, "Q": 5e-2, "FMI_w": 5e-2, "FMI_pixel": 0.5, "Qcb": None}


def float32_tolerance(name: str, convention: str) -> float | None:
    """The documented float32 tolerance of a metric (:data:`FLOAT32_TOLERANCE`); ``None``: float64 only."""
    for key in (f"{name}:{convention}", name, "default"):
        if key in FLOAT32_TOLERANCE:
            return FLOAT32_TOLERANCE[key]
    return None  # pragma: no cover  ("default" is always there)


def float32_deviation(low: float, high: float) -> float:
    """``|low - high| / max(|high|, 1e-3)``, what :data:`FLOAT32_TOLERANCE` bounds; 0 when both are NaN, inf when
    only one is."""
    import math

    if math.isnan(high) or math.isnan(low):
        return 0.0 if math.isnan(high) and math.isnan(low) else math.inf
    return abs(low - high) / max(abs(high), 1e-3)


def float64_only(entry: PlanEntry) -> bool:
    """Whether ``entry`` must be computed in float64 even on the float32 path (its tolerance is ``None``)."""
    return float32_tolerance(entry.name, entry.convention) is None


@dataclass(frozen=True)
class Job:
    """One image to evaluate: ``read()`` returns its (fused, ir, vis) uint8 arrays (picklable for the workers)."""

    index: int
    image_id: str
    read: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]]
    cost: int = 0  # pixels: the largest jobs are started first when there are workers


# ---- memory guard ---------------------------------------------------------------------------------------

#: Peak memory of one metric on one image above the image itself, in bytes per pixel (float64 on CPU, one
#: thread): measured alone in a fresh process on a 1500 x 1000 pair through the engine
#: (``python -m benchmarks.speed.metric_memory``: Qabf, SSIM and MS-SSIM in strips, the others whole-image),
#: rounded up; ``"NAME:CONVENTION"`` entries override ``"NAME"``, a name not here counts as ``"unknown"`` (the
#: largest). Metrics run one after another and shared work is released after its last reader, so an image needs
#: the largest entry of its plan, plus what :data:`SHARED_BYTES_PER_PIXEL` holds between readers.
PEAK_BYTES_PER_PIXEL = {
    "EN": 24, "MI": 90, "SD": 8, "SF": 16, "AG": 56, "Qabf": 104, "SCD": 48, "SSIM": 94, "MS_SSIM": 180,
    "CC": 88, "MSE": 32, "PSNR": 48, "VIF": 190, "VIFP": 206, "FMI_pixel": 50, "FMI_dct": 102, "FMI_w": 122,
    "Q": 198, "Qw": 198, "Qe": 248, "Qcb": 266, "Qcv": 188, "CE": 90, "EI": 56, "RMSE": 48,
    "unknown": 300,
}
#: The same metrics before their strips (whole-image maps): what another convention's variant of them counts.
WHOLE_IMAGE_BYTES_PER_PIXEL = {"Qabf": 264, "SSIM": 192, "MS_SSIM": 290}
#: What a shared intermediate (:mod:`metrics.functional._shared`) holds between its first and last reader, in
#: bytes per pixel, and the per-image conversions kept for the whole image (0-255 copies, gray levels).
SHARED_BYTES_PER_PIXEL = {"ssim.maps": 32, "vif.gain_terms": 64, "piella.window_terms": 16, "image": 27 + 48}
#: The estimate (:func:`memory_estimate`) is multiplied by this margin.
MEMORY_MARGIN = 1.25


def memory_estimate(plan: Sequence[PlanEntry], pixels: int) -> tuple[int, list[tuple[str, int]]]:
    """Bytes that evaluating ``plan`` on ``pixels`` pixels (all images of a batch, CPU float64) needs at its peak,
    and the plan's metrics by their own need, heaviest first.

    The metrics run in plan order: at each, its own peak plus the shared intermediates other metrics computed
    and have still to read (:func:`metrics.functional._shared.release_schedule`), plus the image's conversions;
    the largest of these, times :data:`MEMORY_MARGIN`.
    """
    from .functional._shared import release_schedule

    releases = release_schedule([entry.functional for entry in plan])
    own, alive, peak = {}, set(), 0
    for entry, released in zip(plan, releases):
        per_pixel = PEAK_BYTES_PER_PIXEL.get(f"{entry.name}:{entry.convention}",
                                             PEAK_BYTES_PER_PIXEL.get(entry.name, PEAK_BYTES_PER_PIXEL["unknown"]))
        if entry.convention != "default":
            per_pixel = max(per_pixel, WHOLE_IMAGE_BYTES_PER_PIXEL.get(entry.name, 0))
        own[f"{entry.name} ({entry.convention})"] = per_pixel * pixels
        reads = set(getattr(entry.functional, "shared_intermediates", ()))
        others = sum(SHARED_BYTES_PER_PIXEL.get(name, 0) for name in alive - reads)
        peak = max(peak, (per_pixel + others) * pixels)
        alive = (alive | reads) - set(released)
    need = int(MEMORY_MARGIN * (peak + SHARED_BYTES_PER_PIXEL["image"] * pixels))
    return need, sorted(own.items(), key=lambda item: -item[1])


def available_memory() -> int | None:
    """Bytes this process may still allocate: ``MemAvailable`` of ``/proc/meminfo``, lowered to what the cgroup
    (a container's limit) leaves; ``None`` where unknown (not Linux)."""
    try:
        with open("/proc/meminfo") as handle:
            fields = dict(line.split(":", 1) for line in handle)
        available = int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None
    try:
        with open("/sys/fs/cgroup/memory.max") as handle:
            limit = handle.read().strip()
        if limit != "max":
            with open("/sys/fs/cgroup/memory.current") as handle:
                available = min(available, int(limit) - int(handle.read()))
    except (OSError, ValueError):
        pass
    return available


def _gb(count: float) -> str:
    return f"{count / 2**30:.1f} GB"


def check_memory(plan: Sequence[PlanEntry], height: int, width: int, image: str = "an image", count: int = 1,
                 device: Any = "cpu") -> None:
    """Raise :class:`UserError` when evaluating ``plan`` on ``count`` images of ``height`` x ``width`` would need
    more memory than is available (:func:`memory_estimate`, :func:`available_memory`), rather than let the
    operating system kill the process part way. Nothing is checked off CPU or where the memory is unknown."""
    import torch

    if torch.device(device).type != "cpu":
        return
    available = available_memory()
    if available is None:
        return
    need, heaviest = memory_estimate(plan, count * height * width)
    if need <= available:
        return
    names = ", ".join(f"{name} ~{_gb(b * MEMORY_MARGIN)}" for name, b in heaviest[:3])
    raise UserError(f"{image} ({width} x {height}{f' x {count} images' if count > 1 else ''}) needs about "
                    f"{_gb(need)} of memory to evaluate but {_gb(available)} is available; heaviest metrics: "
                    f"{names}. Evaluate fewer metrics (--metrics, leaving out the heaviest), fewer images at a time "
                    f"(--workers 1, --batch-size 1), or on a machine with more memory")


# ---- worker processes ---------------------------------------------------------------------------------

_WORKER_PLAN: list[PlanEntry] | None = None
_WORKER_DEVICE = "cpu"


def _init_worker(keys: list[tuple[str, str]], device: str) -> None:
    """Pool initializer: one CPU thread, Ctrl-C left to the parent, the plan resolved once."""
    import torch

    global _WORKER_PLAN, _WORKER_DEVICE
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    import metrics  # noqa: F401  (fills the registry under the spawn start method)

    _WORKER_PLAN, _WORKER_DEVICE = resolve_plan(keys), device


def _run_job(job: Job) -> tuple[int, list[float], list[tuple[type, str]]]:
    values, caught = image_values(_WORKER_PLAN, *job.read(), device=_WORKER_DEVICE, image_id=job.image_id)
    return job.index, values, caught


def _context():
    """``fork`` where it exists (the workers inherit the imported modules: no start-up), else ``spawn``."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


class JobRunner:
    """Runs jobs in this process or in a pool of worker processes; a context manager.

    ``workers=1`` runs in this process with one CPU thread (restored on exit); more start
    that many worker processes of one thread each when entered (before any thread of the
    caller, e.g. a progress bar, exists), largest images first. An exception in a job
    (e.g. a file that fails to decode) stops the pool and is raised by :meth:`run`.

    Example:
        >>> with JobRunner([("EN", "default")], workers=1) as runner:  # doctest: +SKIP
        ...     for job, values, caught in runner.run(jobs):
        ...         ...
    """

    def __init__(self, keys: Sequence[tuple[str, str]], *, workers: int = 1, device: str = "cpu",
                 jobs: int | None = None, batch_size: int = 1, dtype: Any = None) -> None:
        if workers < 1:
            raise UserError(f"--workers must be at least 1, got {workers}")
        if batch_size < 1:
            raise UserError(f"--batch-size must be at least 1, got {batch_size}")
        self.keys, self.device, self.batch_size, self.dtype = list(keys), device, batch_size, dtype
        self.workers = workers if jobs is None else max(1, min(workers, jobs))
        self._pool = None
        self._threads = None

    def __enter__(self) -> "JobRunner":
        import torch

        if self.workers == 1:
            self._plan = resolve_plan(self.keys)
            self._threads = torch.get_num_threads()
            torch.set_num_threads(1)
        else:
            self._pool = _context().Pool(self.workers, initializer=_init_worker, initargs=(self.keys, self.device))
        return self

    def run(self, jobs: Sequence[Job]) -> Iterator[tuple[Job, list[tuple[float, str]], list[tuple[type, str]]]]:
        """Yield ``(job, values, warnings)`` as each image finishes (not in job order with workers); values as
        :func:`image_values` gives them."""
        if self._pool is None and (self.batch_size > 1 or self.dtype is not None):
            yield from self._batched(jobs)
            return
        if self._pool is None:
            for job in jobs:
                values, caught = image_values(self._plan, *job.read(), device=self.device, image_id=job.image_id)
                yield job, values, caught
            return
        by_index = {job.index: job for job in jobs}
        for index, values, caught in self._pool.imap_unordered(_run_job, sorted(jobs, key=lambda j: -j.cost)):
            yield by_index[index], values, caught

    def _batched(self, jobs: Sequence[Job]) -> Iterator[tuple[Job, list[float], list[tuple[type, str]]]]:
        """Same-size images ``batch_size`` at a time (:func:`batch_values`), each batch yielded when done."""
        pending: dict[tuple, list[tuple[Job, tuple]]] = {}

        def flush(shape):
            group = pending.pop(shape)
            values, caught = batch_values(self._plan, [images for _, images in group], self.device, self.dtype)
            for (job, _), image_values_, mine in zip(group, values, caught):
                yield job, image_values_, mine

        for job in jobs:
            images = job.read()
            shape = images[0].shape
            pending.setdefault(shape, []).append((job, images))
            if len(pending[shape]) >= self.batch_size:
                yield from flush(shape)
        for shape in list(pending):
            yield from flush(shape)

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
        if self._threads is not None:
            import torch

            torch.set_num_threads(self._threads)


def default_workers() -> int:
    """The CPUs this process may use (``os.sched_getaffinity`` where it exists)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover  (macOS, Windows)
        return os.cpu_count() or 1
