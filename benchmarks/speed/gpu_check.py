"""One prepared GPU run (#17 item 3): the CUDA metric path, a DIDFuse training step and DIDFuse's paper profile, in one JSON.

Three parts, each under its own time budget, each written to ``OUT/gpu_check.json`` (atomically)
as soon as it is known:

``metrics``
    Every metric of every convention on real TNO pairs (the DIDFuse authors' released fusions),
    through the runner's Metric classes: on CPU in float64 one image at a time (the exact values),
    and on ``--device`` in float32, same-size images batched (N x 1 x H x W); per metric the
    largest deviation against :data:`FLOAT32_TOLERANCE` and the time of each side.
``train_step``
    A DIDFuse training step (forward, loss, backward, Adam) at the paper's batch, 24 real
    ``flir_train`` centre crops of 128 x 128, the ``paper`` profile's hyper-parameters and the
    same initial weights, on ``--device`` against the CPU (every core torch uses).
``paper``
    DIDFuse trained under the ``paper`` profile (960 steps, ``benchmarks/configs/didfuse/paper.yaml``)
    through the real runner (:func:`benchmarks.run.run`, what ``ivif-bench run --profile paper
    --methods didfuse --metric-device auto`` runs), evaluated on TNO / FLIR / NIR with the fused
    images kept on the GPU from fusion to metrics; its Table 4 means beside the paper's and those
    of the authors' released outputs (evaluated by ivif-bench, CPU float64), and the run's values
    against a CPU float64 evaluation of its own PNGs.

  python -m benchmarks.speed.gpu_check --data-root ../shared/data --out runs/gpu_check           # one GPU, < 8 min
  python -m benchmarks.speed.gpu_check --data-root ../shared/data --tiny --out /tmp/gpu_check    # CPU, seconds
  python -m benchmarks.speed.gpu_check --data-root ../shared/data --device cpu --parts metrics --pairs 1-40

``--tiny`` shrinks every part (two TNO pairs cropped to 176 x 176, a batch of 4 x 32 x 32, the ``smoke``
profile for 2 steps on 96 x 96 crops of two pairs per test set), on the CPU unless ``--device``: there
the float32 side runs float32 arithmetic on CPU (the stand-in the tolerances were measured with).
Run again with the same ``--out``, the runner resumes its run dir. Exit 0 when every part finished and
agreed, 1 otherwise, 2 for a bad argument or data root.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from benchmarks.provenance import collect, now, read_json, seed_everything, write_json
from benchmarks.verify.didfuse_official import RELEASED
from metrics.engine import FLOAT32_TOLERANCE, float32_tolerance  # the one table (metrics/engine.py)
from metrics.engine import float32_deviation as deviation

PARTS = ("metrics", "train_step", "paper")
#: seconds per part: 8 minutes in all with start-up, on one GPU (a part past its budget stops and says so)
BUDGETS = {"metrics": 110.0, "train_step": 70.0, "paper": 240.0}
TABLE4_METRICS = ("EN", "MI", "SD", "SF", "VIF", "AG")
#: Zhao et al., IJCAI 2020, Table 4, DIDFuse row (../shared/papers/didfuse-ijcai2020.txt, ../shared/spec/metrics.md)
TABLE4 = {"tno": dict(zip(TABLE4_METRICS, (7.006, 2.347, 42.657, 13.126, 0.623, 4.294))),
          "flir": dict(zip(TABLE4_METRICS, (7.344, 2.882, 46.888, 18.835, 0.538, 5.574))),
          "nir": dict(zip(TABLE4_METRICS, (7.357, 3.795, 57.557, 26.529, 0.937, 8.741)))}
#: TNO pairs of the metrics part: four of 768 x 576, four of 620 x 450, two of 280 x 280, two of 360 x 270
METRIC_PAIRS = "1,2,3,4,16,17,18,19,5,10,33,34"
# float32 (CUDA) against float64 (CPU): FLOAT32_TOLERANCE, float32_tolerance and deviation are the product's one
# table and its lookup (metrics.engine): |float32 - float64| <= tolerance * max(|float64|, 1e-3), looked up as
# "NAME:CONVENTION", then "NAME", then "default"; None: float64 only (float32 is not usable).


class PartTimeout(BaseException):
    """A part ran past its time budget (a BaseException: Lightning re-raises it after its own clean-up)."""


class DataRootError(Exception):
    """The data root lacks what a part reads (the message says what and how to get it)."""


@contextlib.contextmanager
def float32_arithmetic() -> Iterator[None]:
    """Every functional metric computes in float32 on CPU, as it does on an accelerator (the CPU stand-in).

    The functionals take their precision from ``compute_dtype(device)`` (float64 on CPU, float32
    elsewhere); this context makes it float32 everywhere, through ``compute_precision`` where the
    metrics package has it (``ivif-bench evaluate``'s batched path), else by rebinding ``compute_dtype``
    in each functional module for the duration.
    """
    import importlib
    import pkgutil

    import metrics.functional as functional
    from metrics.functional import _checks

    if hasattr(_checks, "compute_precision"):
        with _checks.compute_precision(torch.float32):
            yield
        return
    modules = [importlib.import_module(f"{functional.__name__}.{m.name}") for m in pkgutil.iter_modules(functional.__path__)]
    saved = [(m, m.compute_dtype) for m in modules if hasattr(m, "compute_dtype")]
    for module, _ in saved:
        module.compute_dtype = lambda device: torch.float32
    try:
        yield
    finally:
        for module, original in saved:
            module.compute_dtype = original


@contextlib.contextmanager
def budget(seconds: float) -> Iterator[float]:
    """Raise :class:`PartTimeout` in this (main) thread after ``seconds``; yields the deadline (perf_counter).
    An interval timer armed before (e.g. pytest-timeout's) is re-armed afterwards with its remaining time."""
    start = time.perf_counter()
    deadline = start + seconds
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):  # pragma: no cover
        yield deadline
        return

    def expire(signum, frame):
        raise PartTimeout(f"time budget of {seconds:.0f} s spent")

    previous = signal.signal(signal.SIGALRM, expire)
    remaining, interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield deadline
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if remaining > 0:
            signal.setitimer(signal.ITIMER_REAL, max(remaining - (time.perf_counter() - start), 1e-3), interval)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---- inputs ---------------------------------------------------------------------------------------------

def check_data_root(data_root: Path, parts: list[str], origin: str) -> None:
    """Raise :class:`DataRootError` naming what the selected parts need and cannot find under ``data_root``."""
    from datamodules.datasets import load_pairs

    needed = {"metrics": ["tno"], "train_step": ["flir_train"], "paper": ["tno", "flir", "nir", "flir_train"]}
    datasets = list(dict.fromkeys(d for part in parts for d in needed[part]))
    problems = [] if data_root.is_dir() else ["the folder does not exist"]
    for name in datasets if not problems else []:
        try:
            load_pairs(name, data_root)
        except Exception as err:  # noqa: BLE001 - the dataset's own message says what is missing
            problems.append(f"{name}: {str(err).splitlines()[0]}")
        folder = data_root / "IVIF-DIDFuse" / "Test_result" / RELEASED.get(name, "")
        if name in RELEASED and not folder.is_dir():
            problems.append(f"{folder}: the authors' released fusions are missing")
    if problems:
        raise DataRootError(f"data root {data_root} ({origin}) cannot serve parts {', '.join(parts)}: "
                            f"{'; '.join(problems[:4])}; pass --data-root DIR holding IVIF-DIDFuse "
                            f"(ivif-bench data download {' '.join(datasets)} --data-root DIR)")


def released_triplets(data_root: Path, ids: str, crop: int | None) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(pair id, fused, ir, vis) uint8 H x W of TNO pairs, fused = the authors' released DIDFuse output."""
    from datamodules.datasets import load_pairs, read_pair
    from datamodules.io import read_image

    out = []
    for pair in load_pairs("tno", data_root, ids=ids):
        fused = read_image(data_root / "IVIF-DIDFuse" / "Test_result" / RELEASED["tno"] / f"F{pair.pair_id}.png")
        ir, vis = read_pair(pair)
        images = [fused, ir, vis] if crop is None else [x[40:40 + crop, 40:40 + crop] for x in (fused, ir, vis)]
        out.append((pair.pair_id, *(np.ascontiguousarray(x) for x in images)))
    return out


def tiny_test_sets(data_root: Path, folder: Path, size: int = 96, count: int = 2) -> tuple[dict, dict]:
    """``size`` x ``size`` crops of the first ``count`` pairs of TNO / FLIR / NIR and of their released fusions:
    ``({set: folder with ir/ and vis/}, {set: folder of F<id>.png})``."""
    from datamodules.datasets import load_pairs, read_pair
    from datamodules.io import read_image, save_png

    sets, released = {}, {}
    for name in TABLE4:
        sets[name], released[name] = folder / name, folder / "released" / name
        for pair in load_pairs(name, data_root)[:count]:
            fused = read_image(data_root / "IVIF-DIDFuse" / "Test_result" / RELEASED[name] / f"F{pair.pair_id}.png")
            for image, path in zip((*read_pair(pair), fused), (sets[name] / "ir", sets[name] / "vis", released[name])):
                stem = f"F{pair.pair_id}" if path == released[name] else pair.pair_id
                save_png(path / f"{stem}.png", np.ascontiguousarray(image[:size, :size]))
    return sets, released


# ---- part (a): metric values and times, float32 on the device against float64 on CPU -------------------

def _values(name: str, convention: str, batches: list, device: torch.device) -> tuple[list[float], float]:
    """Per-image values of one metric over the batches (the runner's Metric class), and the seconds taken."""
    from metrics import get_metric

    metric = get_metric(name, convention).to(device)
    synchronize(device)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NaN / undefined warnings: the values say it
        for batch in batches:
            metric.update(*(x.to(device) for x in batch))
        values = metric.per_image().to("cpu", torch.float64).tolist()
    synchronize(device)
    return values, time.perf_counter() - start


def _attempt(name: str, convention: str, batches: list, device: torch.device, count: int, errors: dict,
             side: str) -> tuple[list[float], float]:
    """:func:`_values`, or ``count`` NaN values with the error kept in ``errors[side]`` (one metric's failure
    on a device must not hide the others')."""
    try:
        return _values(name, convention, batches, device)
    except Exception as err:  # noqa: BLE001 - recorded per metric; the part goes on
        errors[side] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        return [math.nan] * count, 0.0


def metrics_part(record: dict, save: Callable, triplets: list, device: torch.device, deadline: float) -> None:
    """Every metric of every convention: CPU float64 image by image against ``device`` float32, size-batched."""
    from metrics import list_metrics
    from metrics.registry import list_conventions

    keys = [(name, convention) for convention in list_conventions() for name in list_metrics(convention)]
    exact: dict[str, list[float]] = {f"{n}:{c}": [] for n, c in keys}
    errors: dict[str, dict[str, str]] = {key: {} for key in exact}
    cpu_s = dict.fromkeys(exact, 0.0)
    done = []
    for pair_id, *images in triplets:  # float64, one image at a time: what `run` and `evaluate` compute on CPU
        per_pair = sum(cpu_s.values()) / max(len(done), 1)
        if done and time.perf_counter() + per_pair * (len(done) + 2) > deadline:
            break  # keep time for the float32 side (two passes over the pairs, each at most float64's time)
        tensors = tuple(torch.from_numpy(x).to(torch.float64).div(255).view(1, 1, *x.shape) for x in images)
        for name, convention in keys:
            key = f"{name}:{convention}"
            (value,), seconds = _attempt(name, convention, [tensors], torch.device("cpu"), 1, errors[key], "float64")
            exact[key].append(value)
            cpu_s[key] += seconds
        done.append((pair_id, *images))
        record.update(pairs=[d[0] for d in done], cpu_float64_s=round(sum(cpu_s.values()), 3))
        save()
    groups: dict[tuple[int, int], list[int]] = {}
    for index, (_, fused, _, _) in enumerate(done):
        groups.setdefault(fused.shape, []).append(index)
    order = [i for members in groups.values() for i in members]
    batches = [tuple(torch.from_numpy(np.stack([done[i][k] for i in members])).to(device, torch.float32).div(255)
                     .unsqueeze(1) for k in (1, 2, 3)) for members in groups.values()]
    record.update(sizes={f"{w}x{h}": len(m) for (h, w), m in groups.items()},
                  arithmetic="float32 on CPU (stand-in)" if device.type == "cpu" else f"float32 on {device}",
                  metrics={}, tf32_outside_metrics=[torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32])
    from benchmarks.run.evaluate import full_float32  # what the runner computes its metrics under: no TF32

    arithmetic = full_float32() if device.type != "cpu" else float32_arithmetic()
    device_s = first_pass_s = 0.0
    with arithmetic:
        for name, convention in keys:
            key = f"{name}:{convention}"
            first = None
            if device.type != "cpu":  # first pass: kernels load, FFT plans are made
                _, first = _attempt(name, convention, batches, device, len(done), errors[key], "float32")
            values, seconds = _attempt(name, convention, batches, device, len(done), errors[key], "float32")
            first = seconds if first is None else first
            low = [math.nan] * len(done)
            for position, value in zip(order, values):
                low[position] = value
            deviations = [deviation(a, b) for a, b in zip(low, exact[key])]
            worst = int(np.argmax(deviations)) if deviations else 0
            tolerance = float32_tolerance(name, convention)
            largest = max(deviations, default=0.0)
            record["metrics"][key] = {
                "max_relative_deviation": largest, "worst_pair": done[worst][0], "tolerance": tolerance,
                "within": (tolerance is None or largest <= tolerance) and not errors[key],
                "cpu_float64_s": round(cpu_s[key], 4),
                "float32_s": round(seconds, 4), "float32_first_pass_s": round(first, 4),
                "float64": exact[key], "float32": low, **({"errors": errors[key]} if errors[key] else {})}
            device_s, first_pass_s = device_s + seconds, first_pass_s + first
            record.update(float32_s=round(device_s, 3), float32_first_pass_s=round(first_pass_s, 3))
            save()
    record.update(speedup=round(sum(cpu_s.values()) / device_s, 2) if device_s else None,
                  all_within=all(m["within"] for m in record["metrics"].values()) and len(record["metrics"]) == len(keys))


# ---- part (b): one DIDFuse training step at the paper's batch --------------------------------------------

def train_step_part(record: dict, save: Callable, data_root: Path, device: torch.device, deadline: float,
                    batch_size: int, crop: int, steps: int, train_ids: str | None) -> None:
    """Median wall / CPU seconds per step of DIDFuse (paper hyper-parameters) on ``device`` and on the CPU."""
    from benchmarks import profiles
    from benchmarks.speed.train_overhead import plain_steps
    from datamodules import FusionDataModule
    from lightning_modules import get_method_class

    config = profiles.parse_config(profiles.method_config("didfuse", "paper"), profiles.config_path("didfuse", "paper"))
    data_args = {**config["data"]["init_args"], "test_datasets": (), "data_root": str(data_root),
                 "batch_size": batch_size, "crop_size": crop, "train_ids": train_ids}
    datamodule = FusionDataModule(**data_args)
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    seed_everything(0)
    state = {k: v.clone() for k, v in get_method_class("didfuse")(**config["model"]["init_args"]).state_dict().items()}
    record.update(batch=[batch_size, 1, crop, crop], model=config["model"]["init_args"], cpu_threads=torch.get_num_threads())
    sides = [("device", device), ("cpu", torch.device("cpu"))]
    for index, (label, where) in enumerate(sides):
        model = get_method_class("didfuse")(**config["model"]["init_args"]).to(where)
        model.load_state_dict(state)  # the same initial weights on both sides
        optimizer = torch.optim.Adam(model.parameters(), lr=model.hparams.lr)
        warm = plain_steps(model, optimizer, loader, 2, where)  # warm-up: cuDNN, the allocator, first loads
        share = (deadline - time.perf_counter()) / (len(sides) - index)  # what is left, shared with the sides after
        times = plain_steps(model, optimizer, loader, max(1, min(steps, int(share / warm[-1][0]) - 2)), where)
        side = {"device": str(where), "steps_timed": len(times),
                "median_wall_s": float(np.median([t[0] for t in times])),
                "median_process_cpu_s": float(np.median([t[1] for t in times]))}
        if where.type == "cuda":
            side.update(gpu=torch.cuda.get_device_name(where), max_memory_gib=torch.cuda.max_memory_allocated(where) / 2**30)
        record[label] = side
        save()
    if device.type != "cpu":
        record["speedup"] = round(record["cpu"]["median_wall_s"] / record["device"]["median_wall_s"], 2)


# ---- part (c): DIDFuse under the paper profile through the runner -----------------------------------------

def paper_part(record: dict, save: Callable, data_root: Path, out: Path, *, profile: str, datasets: dict,
               released: dict, max_steps: int | None, seed: int, metric_device: str) -> None:
    """Train + fuse + evaluate through :func:`benchmarks.run.run`; Table 4 means beside the paper's and the released'."""
    import pandas as pd

    from benchmarks.report.console import Reporter
    from benchmarks.run import RunOptions, plan_run, run
    from metrics.evaluate import evaluate_folder, mean_table

    options = RunOptions(out=out / "run", methods=["didfuse"], datasets=[str(d) for d in datasets.values()],
                         seeds=[seed], profile=profile, data_root=data_root, metrics=list(TABLE4_METRICS),
                         max_steps=max_steps, metric_device=metric_device, wandb="disabled", plots=False,
                         progress=False, reference_rules=False)
    plan = plan_run(options)
    record.update(profile=profile, run_dir=str(plan.layout.root), metric_device=metric_device,
                  config=plan.resolved_config("didfuse", seed))
    save()
    clock = time.perf_counter()
    run(plan, Reporter(progress=False))
    record["run_wall_s"] = round(time.perf_counter() - clock, 3)
    trained = read_json(plan.layout.training_record("didfuse", seed))  # written by this run or the one resumed
    record["training"] = {k: trained.get(k) for k in ("global_step", "train_time_s", "accelerator", "source")}
    results = pd.read_csv(plan.layout.results, dtype={"image": str})
    ours = results[results["method"] == "didfuse"]
    tables, agreement = {}, {}
    for label, source in zip(plan.pairs, datasets):  # plan.pairs keeps the datasets' order
        rows = ours[ours["dataset"] == label]
        means = rows.groupby("metric")["value"].mean()
        theirs = mean_table(evaluate_folder(released[source], datasets[source], data_root=data_root, pattern="F{id}",
                                            metrics=list(TABLE4_METRICS), progress=False)).iloc[0]
        tables[source] = {m: {"paper": TABLE4[source][m], "released": float(theirs[m]), "ours": float(means[m])}
                          for m in TABLE4_METRICS}
        # the run's values (on the metric device) against CPU float64 on the PNGs the run wrote
        unit = next(u for u in plan.units("didfuse", seed) if u.dataset == label)
        again = evaluate_folder(plan.layout.fused_dir(unit, plan.seed_level), datasets[source], data_root=data_root,
                                metrics=list(TABLE4_METRICS), progress=False)
        merged = rows.merge(again, on=["image", "metric"], suffixes=("", "_cpu"))
        agreement[source] = {m: max(deviation(a, b) for a, b in zip(g["value"], g["value_cpu"]))
                             for m, g in merged.groupby("metric")}
        agreement[source]["bitwise"] = bool((merged["value"].to_numpy() == merged["value_cpu"].to_numpy()).all())
        agreement[source]["images"] = int(rows["image"].nunique())
        marker = read_json(plan.layout.marker(unit))  # where the run fused and evaluated
        agreement[source]["devices"] = {k: marker.get(k) for k in ("fusion_device", "metric_device", "metric_dtype")}
    record.update(table4=tables, run_vs_cpu_float64=agreement,
                  all_within=all(v <= (float32_tolerance(k, "default") or math.inf) for a in agreement.values()
                                 for k, v in a.items() if k in TABLE4_METRICS))


# ---- driver ---------------------------------------------------------------------------------------------

def print_part(name: str, part: dict) -> None:
    """A short human summary of one part (the JSON holds everything)."""
    print(f"[{name}] {part['status']} in {part.get('wall_s', 0):.1f} s" + (f": {part['error']}" if "error" in part else ""))
    if name == "metrics" and part.get("metrics"):
        print(f"  {len(part['pairs'])} TNO pairs, {len(part['metrics'])} metrics ({part['arithmetic']}): CPU float64 "
              f"{part['cpu_float64_s']:.2f} s, float32 {part['float32_s']:.2f} s (first pass "
              f"{part['float32_first_pass_s']:.2f} s); all within tolerance: {part.get('all_within')}")
        for key, m in sorted(part["metrics"].items(), key=lambda kv: -kv[1]["max_relative_deviation"])[:6]:
            print(f"  {key:<20} max rel. deviation {m['max_relative_deviation']:.2e} (pair {m['worst_pair']}), "
                  f"tolerance {m['tolerance'] or 'none (float64 only)'}" + (f"; {m['errors']}" if "errors" in m else ""))
    for side in ("device", "cpu") if name == "train_step" else ():
        if side in part:
            print(f"  {part[side]['device']:<8} {1000 * part[side]['median_wall_s']:9.1f} ms / step wall, "
                  f"{1000 * part[side]['median_process_cpu_s']:9.1f} ms CPU ({part[side]['steps_timed']} steps)")
    for source, table in part.get("table4", {}).items() if name == "paper" else ():
        print(f"  {source}: " + "  ".join(f"{m} {v['paper']:.3f} / {v['released']:.3f} / {v['ours']:.3f}"
                                          for m, v in table.items()) + "   (paper / released / ours)")
        agreement = part["run_vs_cpu_float64"][source]
        print(f"    run values vs CPU float64 on its PNGs: bitwise {agreement['bitwise']}, max rel. "
              f"{max(v for k, v in agreement.items() if k in TABLE4_METRICS):.1e}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None, help="data root (default: $IVIF_BENCH_DATA, else the user cache dir)")
    parser.add_argument("--out", default="runs/gpu_check", help="folder of gpu_check.json and the run dir")
    parser.add_argument("--device", default=None, help="the accelerator side (default: cuda; --tiny: cpu)")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {', '.join(PARTS)}")
    parser.add_argument("--pairs", default=None, help=f"TNO pairs of the metrics part (default {METRIC_PAIRS})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget-scale", type=float, default=1.0, help="multiply every part's time budget")
    parser.add_argument("--tiny", action="store_true", help="every part shrunk to seconds on the CPU (the tests)")
    args = parser.parse_args(argv)

    def fail(message: str) -> int:
        print(f"gpu_check: error: {message}", file=sys.stderr)
        return 2

    from datamodules.datasets import resolve_data_root

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not parts or any(p not in PARTS for p in parts):
        return fail(f"--parts {args.parts!r}: choose from {', '.join(PARTS)}")
    device = torch.device(args.device or ("cpu" if args.tiny else "cuda"))
    if device.type == "cuda" and not torch.cuda.is_available():
        return fail("CUDA is not available on this machine; --device cpu runs the float32 side on the CPU "
                    "(a stand-in), --tiny runs everything small on the CPU")
    origin = ("--data-root" if args.data_root else "$IVIF_BENCH_DATA" if os.environ.get("IVIF_BENCH_DATA")
              else "the user cache dir")
    data_root = resolve_data_root(args.data_root)
    try:
        check_data_root(data_root, parts, origin)
    except DataRootError as err:
        return fail(str(err))
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        return fail(f"--out {out}: cannot write there ({err.strerror or err})")

    budgets = {name: BUDGETS[name] * args.budget_scale for name in parts}
    path = out / "gpu_check.json"
    record = collect(seeds=[args.seed], tiny=args.tiny, device_under_test=str(device), data_root=str(data_root),
                     budgets_s=budgets, float32_tolerance=FLOAT32_TOLERANCE, status="running", parts={})
    save = lambda: write_json(path, record)  # noqa: E731
    save()
    print(f"gpu_check: {'tiny, ' if args.tiny else ''}device {device}, parts {', '.join(parts)}; writing {path}")
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as scratch:
        jobs = {
            "metrics": lambda part, deadline: metrics_part(
                part, save, released_triplets(data_root, args.pairs or ("5,10" if args.tiny else METRIC_PAIRS),
                                              176 if args.tiny else None), device, deadline),
            "train_step": lambda part, deadline: train_step_part(
                part, save, data_root, device, deadline, *((4, 32, 2, "1-8") if args.tiny else (24, 128, 30, None))),
            "paper": lambda part, deadline: paper_part(
                part, save, data_root, out, seed=args.seed, metric_device="auto",
                **(dict(zip(("datasets", "released"), tiny_test_sets(data_root, Path(scratch))), profile="smoke",
                            max_steps=2) if args.tiny else
                   dict(datasets={n: n for n in TABLE4}, profile="paper", max_steps=None,
                        released={n: data_root / "IVIF-DIDFuse" / "Test_result" / RELEASED[n] for n in TABLE4}))),
        }
        for name in parts:
            part = record["parts"][name] = {"status": "running", "started": now(), "budget_s": budgets[name]}
            save()
            clock = time.perf_counter()
            try:
                with budget(budgets[name]) as deadline:
                    jobs[name](part, deadline)
                part["status"] = "finished"
            except PartTimeout as err:
                part.update(status="timeout", error=str(err))
            except Exception as err:  # noqa: BLE001 - one part's failure must not lose the others' results
                part.update(status="failed", error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc())
            part["wall_s"] = round(time.perf_counter() - clock, 3)
            save()
            print_part(name, part)
    ok = all(p["status"] == "finished" and p.get("all_within", True) for p in record["parts"].values())
    record.update(status="finished" if ok else "failed", finished=now())
    save()
    print(f"gpu_check: {'all parts finished' if ok else 'a part failed, ran out of time or disagreed'}: {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
