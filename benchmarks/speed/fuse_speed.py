"""Fusion throughput of every registered method: pairs / s on a real 620 x 450 TNO pair.

Each method fuses TNO pair 16 (620 x 450 pixels, W x H, the common TNO size)
at batch 1 in eval mode under ``torch.no_grad()``; after ``--warmup`` untimed
runs, ``--repeats`` runs are timed (CUDA synchronised) and the median gives
pairs / s (process CPU time per pair beside it: on a loaded machine the wall
clock mostly measures the other processes). Runs on CPU and, when present, on CUDA. The weights are freshly
initialised: the time does not depend on their values, so no checkpoint is
needed.

  python benchmarks/speed/fuse_speed.py --data-root ../shared/data
  python benchmarks/speed/fuse_speed.py --data-root ../shared/data --methods didfuse densefuse --devices cpu
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from datamodules.datasets import load_pairs, read_pair
from datamodules.io import to_tensor
from lightning_modules import create_method, list_methods


def throughput(method: str, ir: torch.Tensor, vis: torch.Tensor, device: torch.device,
               warmup: int = 1, repeats: int = 3) -> tuple[float, float]:
    """Pairs per second of ``method`` fusing ``ir`` / ``vis`` (1 x 1 x H x W) on ``device``, from the median
    wall-clock time of ``repeats`` runs, and the median process CPU seconds per pair."""
    model = create_method(method).eval().to(device)
    ir, vis = ir.to(device), vis.to(device)
    times, cpu_times = [], []
    with torch.no_grad():
        for run in range(warmup + repeats):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start, cpu_start = time.perf_counter(), time.process_time()
            model.fuse(ir, vis)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if run >= warmup:
                times.append(time.perf_counter() - start)
                cpu_times.append(time.process_time() - cpu_start)
    return 1.0 / statistics.median(times), statistics.median(cpu_times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None, help="data root (default: $IVIF_BENCH_DATA, else the user cache dir)")
    parser.add_argument("--methods", nargs="+", default=None, help="methods (default: every registered one)")
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, and cuda when available")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    pair = load_pairs("tno", args.data_root, ids="16")[0]
    ir, vis = (to_tensor(image)[None] for image in read_pair(pair))
    height, width = ir.shape[-2:]
    devices = args.devices or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    methods = args.methods or list_methods()
    print(f"fusion throughput, TNO pair 16 ({width} x {height}), batch 1, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads")
    for device_name in devices:
        device = torch.device(device_name)
        label = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
        for method in methods:
            rate, cpu = throughput(method, ir, vis, device, args.warmup, args.repeats)
            print(f"{label:<28} {method:<16} {rate:10.2f} pairs/s  ({1000 / rate:9.1f} ms/pair; "
                  f"process CPU {1000 * cpu:9.1f} ms/pair)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
