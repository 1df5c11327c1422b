"""Metric suite speed: ivif-bench's torch metrics against a straightforward numpy / scipy baseline, per image.

Times every metric registered in the default convention (``metrics.list_metrics()``; ``--convention
NAME|all`` times another convention's, or all of them)
on real TNO pairs at 620 x 450 (pair 16) and 768 x 576 (pair 1), fused by the
DIDFuse authors' released outputs, one image at a time on CPU (float64), and
batched on CUDA when present. In the same run it times a plain implementation of
the same formulas, written here the way the reference Python / MATLAB code computes
them: ``scipy.signal.correlate2d`` / ``convolve2d`` for every filter,
``sklearn.metrics.mutual_info_score`` for MI, ``skimage.metrics.structural_similarity``
for SSIM, ``numpy.fft`` for the CSF filters, Python loops over 16 x 16 blocks (Qcv) and
over 3 x 3 windows (FMI, as ``fmi.m``). The FMI loop takes minutes per image: it runs
on the first ``--fmi-windows`` windows and its time is scaled by the window count (stated
in the output; the baseline is ``metrics_baseline.py``). Each baseline value is printed next to ours as a check that both
compute the same thing. Best of ``--repeats`` runs.

  python benchmarks/speed/metrics_speed.py --data-root ../shared/data
  python benchmarks/speed/metrics_speed.py --data-root ../shared/data --quick      # 620 x 450 only, 1 run
  python benchmarks/speed/metrics_speed.py --data-root ../shared/data --threads 1 --clock cpu   # on a busy machine

On a machine shared with other jobs, OpenMP threads that spin while waiting make
every small torch op slow (pass ``--threads 1`` or set ``OMP_WAIT_POLICY=PASSIVE``),
and wall times mostly measure the other jobs: ``--clock cpu`` times this process's
CPU use instead (meaningful with one thread; the CUDA timings stay wall times).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.fft
import torch

import metrics
from benchmarks.speed.metrics_baseline import BASELINES, base_fmi
from datamodules.datasets import load_pairs, read_pair, resolve_data_root
from datamodules.io import atomic_write, read_image, to_tensor
from metrics.functional.fmi import _features as fmi_features
from metrics.functional.fmi import fmi_map

FUSED = "IVIF-DIDFuse/Test_result/TNO_IJCAI/F{id}.png"
SIZES = {"620x450": "16", "768x576": "1"}  # TNO pair ids of each size (W x H)
FMI_FEATURES = {"FMI_pixel": "none", "FMI_dct": "dct", "FMI_w": "wavelet"}


# ---------------------------------------------------------------------------------------------------------

#: The clock every timing uses: wall time, or with ``--clock cpu`` the CPU time of this process (all threads),
#: which on a machine shared with other jobs is the closer estimate of the time on an idle one (single thread).
CLOCK: Callable[[], float] = time.perf_counter


def _best_time(fn: Callable, repeats: int, device: torch.device | None = None):
    """(best time of ``repeats`` calls, the last value); CUDA calls are synchronised and always wall-timed."""
    cuda = device is not None and device.type == "cuda"
    clock = time.perf_counter if cuda else CLOCK
    best, value = math.inf, None
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize(device)
        start = clock()
        value = fn()
        if cuda:
            torch.cuda.synchronize(device)
        best = min(best, clock() - start)
    return best, value


def load_triplet(data_root: Path, pair_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fused, ir, vis) uint8 of a TNO pair; fused = DIDFuse's released output (or the pixel mean if absent)."""
    ir, vis = read_pair(load_pairs("tno", data_root, ids=pair_id)[0])
    fused_path = data_root / FUSED.format(id=pair_id)
    if fused_path.is_file():
        fused = read_image(fused_path)
    else:
        fused = np.rint((ir.astype(np.float64) + vis) / 2).astype(np.uint8)
    return fused, ir, vis


def _has_baseline(name: str, convention: str) -> bool:
    """The baselines here implement the default formulas: a convention's metric has one only if it is the default."""
    return (name in metrics.list_metrics() and (name in BASELINES or name in FMI_FEATURES)
            and metrics.get_metric_info(name, convention).functional is metrics.get_metric_info(name).functional)


def benchmark_size(label: str, images, names: list[str], repeats: int, fmi_windows: int,
                   convention: str = "default") -> list[dict]:
    fused, ir, vis = images
    tensors = [to_tensor(x)[None] for x in images]
    # the baseline sees exactly the values the torch metrics compute from: 255 x of the float32 images
    levels = [(t[0, 0].double() * 255).numpy() for t in tensors]
    rows = []
    print(f"\n{label}: TNO, {fused.shape[1]} x {fused.shape[0]}, CPU, one image, float64, best of {repeats}, "
          f"convention {convention}")
    print(f"{'metric':<10} {'ours ms':>10} {'baseline ms':>12} {'speed-up':>9}   {'ours':>12} {'baseline':>12}  note")
    for name in names:
        info = metrics.get_metric_info(name, convention)
        ours_s, ours_v = _best_time(lambda: info.functional(*tensors).item(), repeats)
        row = dict(size=label, convention=convention, metric=name, ours_s=ours_s, ours_value=ours_v,
                   baseline_s=None, baseline_value=None, note="")
        if not _has_baseline(name, convention):
            row["note"] = ("no baseline in this script" if convention == "default" else
                           f"{convention} formula (checked against its reference by benchmarks/verify/octave_reference.py)")
            shown = ours_v
        elif name in FMI_FEATURES:
            feature = FMI_FEATURES[name]
            base_v, done, total, row["baseline_s"] = base_fmi(*levels, feature=feature, windows=fmi_windows, clock=CLOCK)
            # compare over the same windows: ours per window
            features = [fmi_features(torch.round(t.double() * 255), feature) for t in tensors]
            ours_map = fmi_map(features[1], features[2], features[0]).flatten()[:done]
            row["ours_value_same_windows"] = ours_map.mean().item()
            row["baseline_value"] = base_v
            row["note"] = f"baseline loop timed on {done} of {total} windows, scaled x{total / done:.0f}"
            shown = row["ours_value_same_windows"]
        else:
            base_s, base_v = _best_time(lambda: BASELINES[name](*levels), max(1, min(repeats, 2)))
            row.update(baseline_s=base_s, baseline_value=base_v)
            shown = ours_v
        ratio = row["baseline_s"] / ours_s if row["baseline_s"] else math.nan
        base_ms = f"{row['baseline_s'] * 1000:12.1f}" if row["baseline_s"] else f"{'-':>12}"
        base_val = f"{row['baseline_value']:12.6f}" if row["baseline_value"] is not None else f"{'-':>12}"
        print(f"{name:<10} {ours_s * 1000:10.1f} {base_ms} {ratio:8.1f}x   {shown:12.6f} {base_val}  {row['note']}",
              flush=True)
        rows.append(row)
    compared = [r for r in rows if r["baseline_s"]]
    ours_total = sum(r["ours_s"] for r in compared)
    base_total = sum(r["baseline_s"] for r in compared)
    fmi_rows = [r for r in rows if r["metric"] in FMI_FEATURES]
    ratio_total = base_total / ours_total if ours_total else math.nan
    print(f"{'suite':<10} {ours_total * 1000:10.1f} {base_total * 1000:12.1f} {ratio_total:8.1f}x   "
          f"({len(compared)} metrics with a baseline; all {len(rows)}: {sum(r['ours_s'] for r in rows):.2f} s)")
    if fmi_rows:
        print("FMI per variant (s): " + ", ".join(f"{r['metric']} {r['ours_s']:.2f}" for r in fmi_rows))
    return rows


def benchmark_cuda(label: str, images, names: list[str], repeats: int, batch: int,
                   convention: str = "default") -> list[dict]:
    device = torch.device("cuda")
    tensors = [to_tensor(x)[None].expand(batch, -1, -1, -1).contiguous().to(device) for x in images]
    print(f"\n{label}: {torch.cuda.get_device_name(device)}, batch {batch}, float32, per image, "
          f"convention {convention}")
    rows = []
    for name in names:
        info = metrics.get_metric_info(name, convention)
        info.functional(*tensors)  # warm-up (kernels, caches)
        seconds, _ = _best_time(lambda: info.functional(*tensors), repeats, device)
        rows.append(dict(size=label, convention=convention, metric=name, cuda_s_per_image=seconds / batch))
        print(f"{name:<10} {seconds / batch * 1000:10.2f} ms", flush=True)
    print(f"{'suite':<10} {sum(r['cuda_s_per_image'] for r in rows) * 1000:10.2f} ms per image")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None,
                        help="data root (default: $IVIF_BENCH_DATA, else the user cache dir)")
    parser.add_argument("--metrics", default="all", help="comma-separated names (default: every metric)")
    parser.add_argument("--convention", default="default",
                        help="metric convention (default, vifb, cddfuse, tang) or 'all'; baselines exist for the "
                             "default formulas only")
    parser.add_argument("--quick", action="store_true", help="620 x 450 only, one run, a shorter FMI baseline loop")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per metric (best is kept)")
    parser.add_argument("--fmi-windows", type=int, default=2000, help="windows the baseline FMI loop runs on")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time, or this process's CPU time (with --threads 1: the single-core time a "
                             "shared, busy machine does not distort)")
    parser.add_argument("--batch", type=int, default=8, help="CUDA batch size")
    parser.add_argument("--no-cuda", action="store_true", help="skip the CUDA timings even when a GPU is present")
    parser.add_argument("--out", default=None, help="write all timings as JSON here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    conventions = metrics.list_conventions() if args.convention == "all" else [args.convention]
    requested = None if args.metrics == "all" else [n.strip() for n in args.metrics.split(",")]
    plan = {c: [n for n in metrics.list_metrics(c) if requested is None or n in requested] for c in conventions}
    if requested is not None and len(conventions) == 1:
        plan[args.convention] = requested  # an unknown name fails with the convention's list
    names = [n for c in conventions for n in plan[c]]
    repeats, fmi_windows = (1, min(args.fmi_windows, 300)) if args.quick else (args.repeats, args.fmi_windows)
    sizes = {"620x450": SIZES["620x450"]} if args.quick else SIZES
    data_root = resolve_data_root(args.data_root)
    print(f"metric speed: torch {torch.__version__}, {torch.get_num_threads()} CPU threads, numpy {np.__version__}, "
          f"scipy {scipy.__version__}; {len(names)} metrics; {args.clock} clock")
    results = []
    for label, pair_id in sizes.items():
        images = load_triplet(data_root, pair_id)
        for convention in conventions:
            results += benchmark_size(label, images, plan[convention], repeats, fmi_windows, convention)
            if torch.cuda.is_available() and not args.no_cuda:
                results += benchmark_cuda(label, images, plan[convention], repeats, args.batch, convention)
    if args.out:
        with atomic_write(args.out) as handle:
            json.dump(results, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
