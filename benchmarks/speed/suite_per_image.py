"""The whole default suite per image at one size, one thread, process CPU seconds (issue 17's per-image target).

Every default metric (``metrics.list_metrics()``, FMI's three variants included) in one plan per image,
as ``ivif-bench evaluate`` computes it (:func:`metrics.engine.image_values`: shared work computed once),
on every TNO pair of the size (default 768 x 576) with the DIDFuse authors' released fused images; best of
``--repeats`` per image, after one warm-up image (numba's cached kernels load, FFT plans are made). Then each
metric alone on the first pair. The load average is printed: CPU time inflates when the cores are shared.

  OMP_NUM_THREADS=1 python benchmarks/speed/suite_per_image.py --data-root ../shared/data
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data")
    parser.add_argument("--size", default="768x576", help="W x H of the TNO pairs timed (default 768x576)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import torch
    from PIL import Image

    from datamodules.io import read_image
    from metrics.engine import image_values, resolve_plan
    from metrics.registry import list_metrics

    torch.set_num_threads(1)
    size = tuple(int(x) for x in args.size.lower().split("x"))
    tno = args.data_root / "IVIF-DIDFuse"
    sources = tno / "Datasets" / "Test_data_TNO"
    ids = [k for k in range(1, 41) if Image.open(sources / f"IR{k}.bmp").size == size]
    if not ids:
        raise SystemExit(f"no TNO pair of {args.size} under {sources}")
    arrays = [tuple(read_image(p) for p in (tno / "Test_result" / "TNO_IJCAI" / f"F{k}.png", sources / f"IR{k}.bmp",
                                            sources / f"VIS{k}.bmp")) for k in ids]
    plan = resolve_plan([(m, "default") for m in list_metrics("default")])
    image_values(plan, *arrays[0])  # warm-up
    best = []
    for triplet in arrays:
        runs = []
        for _ in range(max(1, args.repeats)):
            start = time.process_time()
            image_values(plan, *triplet)
            runs.append(time.process_time() - start)
        best.append(min(runs))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"load average {load}; {len(plan)} metrics; {args.size} TNO pairs {ids}")
    print("per image, best of", args.repeats, "CPU s:", [round(b, 3) for b in best])
    ordered = sorted(best)
    print(f"median {ordered[len(ordered) // 2]:.3f} s, min {ordered[0]:.3f} s, max {ordered[-1]:.3f} s")
    alone = {}
    for entry in plan:
        start = time.process_time()
        image_values([entry], *arrays[0])
        alone[entry.name] = time.process_time() - start
    print(f"pair {ids[0]}, each metric alone (CPU s):",
          ", ".join(f"{k} {v:.3f}" for k, v in sorted(alone.items(), key=lambda kv: -kv[1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
