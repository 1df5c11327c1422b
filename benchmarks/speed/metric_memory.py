"""Peak memory of each metric on one image: bytes per pixel above the image's own tensors.

Each metric runs alone in a fresh subprocess (one CPU thread) through the engine of
``ivif-bench evaluate`` (:func:`metrics.engine.image_values`, shared work included) on a
pair built from real data (TNO pair 4 mirrored out to ``--size``, its fused image the pixel
average, as :mod:`benchmarks.speed.large_images`). The process first evaluates the metric on a
small crop (numba's compilation and torch's first-call allocations are not the metric's per-pixel
cost), converts the images, then resets its peak resident set (``/proc/self/clear_refs``) and
reads ``VmHWM`` after the evaluation: (peak - resident before) / pixels. ``--suite`` adds the
whole default suite in one process (what ``evaluate`` holds at once).

  python -m benchmarks.speed.metric_memory --data-root ../shared/data                  # 1500 x 1000, ~2 min
  python -m benchmarks.speed.metric_memory --data-root ../shared/data --metrics SSIM,VIF --suite
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux >= 4.0: VmHWM back to the current VmRSS


def measure(names: list[str], data_root: str | None, height: int, width: int) -> dict:
    """Peak extra bytes per pixel of evaluating ``names`` together on one height x width image (this process)."""
    import numpy as np
    import torch

    from benchmarks.speed.large_images import large_pair
    from metrics.engine import _as_tensor, _evaluate, resolve_plan

    torch.set_num_threads(1)
    plan = resolve_plan([(name, "default") for name in names])
    ir, vis = large_pair(data_root, height, width)
    fused = ((ir.astype(np.uint16) + vis) // 2).astype(np.uint8)
    _evaluate(plan, [_as_tensor(x[:96, :128], "cpu") for x in (fused, ir, vis)])  # compile, warm up
    tensors = [_as_tensor(x, "cpu") for x in (fused, ir, vis)]
    _reset_peak()
    before = _status_kib("VmRSS")
    _evaluate(plan, tensors)
    peak = _status_kib("VmHWM")
    pixels = height * width
    return {"metrics": names, "size": f"{width} x {height}", "extra_mb": round((peak - before) / 1024, 1),
            "bytes_per_pixel": round((peak - before) * 1024 / pixels, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--size", default="1500x1000", help="W x H (default 1500x1000)")
    parser.add_argument("--metrics", default=None, help="comma-separated names (default: the default suite)")
    parser.add_argument("--suite", action="store_true", help="also the whole list in one process")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: these names, in this process
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    if args.one:
        print(json.dumps(measure(args.one.split(","), args.data_root, height, width)))
        return 0
    import metrics

    names = args.metrics.split(",") if args.metrics else metrics.list_metrics("default")
    groups = [[n] for n in names] + ([names] if args.suite else [])
    rows = []
    for group in groups:
        command = [sys.executable, "-m", "benchmarks.speed.metric_memory", "--one", ",".join(group),
                   "--size", args.size] + (["--data-root", args.data_root] if args.data_root else [])
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            return done.returncode
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        label = row["metrics"][0] if len(group) == 1 else f"suite ({len(group)})"
        print(f"{label:12s} {row['bytes_per_pixel']:8.1f} B/px  {row['extra_mb']:8.1f} MB", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
