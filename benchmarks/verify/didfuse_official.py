"""Check that our DIDFuse with the authors' weights reproduces their released fused images.

For every pair k of the three DIDFuse test sets, the authors' encoder / decoder
weights (``IVIF-DIDFuse/Models``), the sum rule and the authors' preprocessing
(gray, /255, no crop, eval BatchNorm) fuse IR<k> and VIS<k>; the result, saved
with the project's 8-bit rule (rint(clamp(y, 0, 1) * 255)), is compared with
``IVIF-DIDFuse/Test_result/<SET>_IJCAI/F<k>.png``. Prints, per test set, the
share of pixels within one gray level, max and mean |difference|, and exits 1
when a set is under 99.9 %.

  python benchmarks/verify/didfuse_official.py --data-root ../shared/data
  python benchmarks/verify/didfuse_official.py --data-root ../shared/data --datasets tno --ids 1-4 --device cuda

All 132 pairs take about 15 minutes on 2 CPU cores (a few seconds on a GPU).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from datamodules.datasets import load_pairs, read_pair, resolve_data_root
from datamodules.io import read_image, to_tensor, to_uint8
from lightning_modules.didfuse import DIDFuse

RELEASED = {"tno": "TNO_IJCAI", "flir": "FLIR_IJCAI", "nir": "NIR_IJCAI"}
THRESHOLD = 0.999


def compare_dataset(model: DIDFuse, dataset: str, data_root, ids=None, device="cpu") -> dict:
    """Fuse every pair of ``dataset`` and compare with the released images; returns the figures."""
    root = resolve_data_root(data_root)
    within = total = 0
    max_diff, abs_sum = 0, 0
    pairs = load_pairs(dataset, root, ids)
    for pair in pairs:
        ir, vis = (to_tensor(image)[None].to(device) for image in read_pair(pair))
        with torch.no_grad():
            ours = to_uint8(model.fuse(ir, vis)).astype(np.int16)
        released = read_image(root / "IVIF-DIDFuse" / "Test_result" / RELEASED[dataset] / f"F{pair.pair_id}.png")
        if released.shape != ours.shape:
            raise ValueError(f"released F{pair.pair_id}.png of {dataset} is {released.shape}, ours {ours.shape}")
        diff = np.abs(ours - released.astype(np.int16))
        within += int((diff <= 1).sum())
        total += diff.size
        max_diff = max(max_diff, int(diff.max()))
        abs_sum += int(diff.sum())
    return {"dataset": dataset, "pairs": len(pairs), "pixels": total, "within_1": within / total,
            "max_abs_diff": max_diff, "mean_abs_diff": abs_sum / total}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None, help="data root (default: $IVIF_BENCH_DATA, else the user cache dir)")
    parser.add_argument("--datasets", nargs="+", default=list(RELEASED), choices=list(RELEASED))
    parser.add_argument("--ids", default=None, help="only these pair ids of each set, e.g. 1-4")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    args = parser.parse_args(argv)

    model = DIDFuse.from_data_root(args.data_root, fusion_strategy="sum").to(args.device)
    print(f"DIDFuse, authors' weights, sum rule, device {args.device}: ours vs released Test_result/*_IJCAI")
    print(f"{'set':<6}{'pairs':>6}{'pixels':>12}{'<=1 level':>12}{'max|d|':>8}{'mean|d|':>11}{'seconds':>9}")
    ok = True
    for dataset in args.datasets:
        start = time.perf_counter()
        r = compare_dataset(model, dataset, args.data_root, args.ids, args.device)
        ok &= r["within_1"] >= THRESHOLD
        print(f"{dataset:<6}{r['pairs']:>6}{r['pixels']:>12}{100 * r['within_1']:>11.4f}%{r['max_abs_diff']:>8}"
              f"{r['mean_abs_diff']:>11.2e}{time.perf_counter() - start:>9.1f}")
    print("PASS" if ok else f"FAIL: a set is under {100 * THRESHOLD:.1f} % within one gray level")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
