"""Check the DenseFuse authors' PyTorch weights: reconstruction error on TNO, saturation of each fusion rule.

The DenseFuse authors released no fused images with their PyTorch weights
(``densefuse-pytorch/models/densefuse_gray.model``), so the checks are:

1. **reconstruction**: every IR and VIS image of the 40 TNO test pairs through
   encoder and decoder, clamped to [0, 255] and rounded (the benchmark's 8-bit
   rule; ``trunc`` is the port's ``astype('uint8')``), against the image itself:
   mean and max |difference|, RMSE, share within one gray level;
2. **fusion rules** on the same pairs: share of pixels at 255 (saturated) and
   at 0, and the mean gray level, for the port's ``mean`` (the default),
   the paper's ``addition`` (sum) and ``l1_norm``; pair 1 and all 40 pairs;
3. optionally (``--tang-reference DIR``), how far the ``mean`` rule reproduces the DenseFuse
   fusions of the 42 ``tang_tno`` pairs that SeAFusion / PIAFusion's evaluation
   code ships (``Image/Algorithm/DenseFuse_TNO/NN.png`` of
   github.com/Linfeng-Tang/Evaluation-for-Image-Fusion; not in the data root):
   as the benchmark saves it, and min-max stretched to [0, 255] as
   ``scipy.misc.imsave`` did to a float image (:func:`bytescale`).

Exits 1 when the reconstruction's mean |difference| exceeds 0.5 gray levels,
or when the default rule saturates more than 1 % of the TNO pixels.

  python -m benchmarks.verify.densefuse_official --data-root ../shared/data
  python -m benchmarks.verify.densefuse_official --data-root ../shared/data --ids 1-3 --tang-reference DenseFuse_TNO/

All 40 TNO pairs: 11 minutes on one core of the shared 2-core machine; with --tang-reference
(42 more pairs), 21 minutes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.verify.ifcnn_official import Agreement, tang_tno_sources
from datamodules.datasets import load_pairs, read_pair
from datamodules.io import read_image, to_tensor, to_uint8
from lightning_modules.densefuse import FUSION_STRATEGIES, DenseFuse

MAX_RECONSTRUCTION_MAE = 0.5
MAX_DEFAULT_SATURATION = 0.01


def bytescale(image: np.ndarray) -> np.ndarray:
    """``scipy.misc.bytescale`` (scipy < 1.2, what ``imsave`` applied to float arrays): min-max to uint8.

    ``uint8(clip((x - min) * 255 / (max - min), 0, 255) + 0.5)``; a constant image maps to 0.
    """
    image = np.asarray(image, dtype=np.float64)
    low, high = image.min(), image.max()
    scale = 255.0 / (high - low) if high > low else 1.0
    return (np.clip((image - low) * scale, 0, 255) + 0.5).astype(np.uint8)


def reconstruction(model: DenseFuse, data_root, ids=None, device: str = "cpu") -> dict:
    """Encode-decode every IR and VIS image of TNO; |difference| in gray levels for the rounded and truncated output."""
    stats = {rule: {"n": 0, "abs": 0.0, "sq": 0.0, "max": 0, "within": 0} for rule in ("round", "trunc")}
    pairs = load_pairs("tno", data_root, ids)
    for pair in pairs:
        for image in read_pair(pair):
            with torch.no_grad():
                out = model.net(to_tensor(image)[None].to(device) * 255).clamp(0, 255)[0, 0].cpu().numpy()
            for rule, levels in (("round", np.rint(out)), ("trunc", np.trunc(out))):
                diff = np.abs(levels - image.astype(np.float64))
                s = stats[rule]
                s["n"] += diff.size
                s["abs"] += float(diff.sum())
                s["sq"] += float((diff ** 2).sum())
                s["max"] = max(s["max"], int(diff.max()))
                s["within"] += int((diff <= 1).sum())
    return {rule: {"images": 2 * len(pairs), "mean_abs_diff": s["abs"] / s["n"], "rmse": (s["sq"] / s["n"]) ** 0.5,
                   "max_abs_diff": s["max"], "within_1": s["within"] / s["n"]} for rule, s in stats.items()}


def saturation(model: DenseFuse, data_root, ids=None, device: str = "cpu") -> dict:
    """Per fusion rule: shares of fused TNO pixels at 255 and at 0 and the mean level, over all pairs and pair 1."""
    pairs = load_pairs("tno", data_root, ids)
    result = {}
    original = model.hparams.fusion_strategy
    for strategy in FUSION_STRATEGIES:
        model.hparams.fusion_strategy = strategy
        n = high = low = 0
        total = 0.0
        first = None
        for pair in pairs:
            ir, vis = (to_tensor(image)[None].to(device) for image in read_pair(pair))
            with torch.no_grad():
                fused = to_uint8(model.fuse(ir, vis))
            n += fused.size
            high += int((fused == 255).sum())
            low += int((fused == 0).sum())
            total += float(fused.sum())
            if first is None:
                first = (pair.pair_id, float((fused == 255).mean()), float(fused.mean()))
        result[strategy] = {"pairs": len(pairs), "at_255": high / n, "at_0": low / n, "mean_level": total / n,
                            "first_pair": first[0], "first_at_255": first[1], "first_mean_level": first[2]}
    model.hparams.fusion_strategy = original
    return result


def tang_reference(model: DenseFuse, folder: Path, data_root, ids=None, device: str = "cpu") -> dict:
    """The mean rule against Tang's DenseFuse_TNO fusions: as saved here, and min-max stretched (:func:`bytescale`)."""
    saved, stretched = Agreement(), Agreement()
    for pair_id, ir_path, vis_path in tang_tno_sources(data_root, ids):
        reference_path = Path(folder) / f"{pair_id}.png"
        reference = read_image(reference_path, mode="gray_strict")
        ir, vis = (to_tensor(read_image(p, mode="gray_strict"))[None].to(device) for p in (ir_path, vis_path))
        with torch.no_grad():
            phi = (model.net.encode(ir * 255) + model.net.encode(vis * 255)) / 2
            decoded = model.net.decode(phi).clamp(min=0)[0, 0].cpu().numpy()  # the port's C5 ReLU
        saved.add(pair_id, np.rint(np.clip(decoded, 0, 255)).astype(np.uint8), reference, reference_path)
        stretched.add(pair_id, bytescale(decoded), reference, reference_path)
    return {"saved": saved.row(), "min-max stretched": stretched.row()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None, help="data root (default: $IVIF_BENCH_DATA, else the user cache dir)")
    parser.add_argument("--ids", default=None, help="only these TNO pairs, e.g. 1-4 (tang_tno: 01-04)")
    parser.add_argument("--tang-reference", type=Path, default=None,
                        help="folder of Evaluation-for-Image-Fusion's Image/Algorithm/DenseFuse_TNO/NN.png")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    args = parser.parse_args(argv)

    model = DenseFuse.from_official(data_root=args.data_root).to(args.device)
    start = time.perf_counter()
    rec = reconstruction(model, args.data_root, args.ids, args.device)
    print(f"DenseFuse, authors' PyTorch weights (densefuse_gray.model), device {args.device}")
    print(f"reconstruction of TNO ({rec['round']['images']} images), |ours - image| in gray levels:")
    print(f"  {'8-bit rule':<12}{'mean':>8}{'rmse':>8}{'max':>6}{'<=1 level':>12}")
    for rule, r in rec.items():
        print(f"  {rule:<12}{r['mean_abs_diff']:>8.3f}{r['rmse']:>8.3f}{r['max_abs_diff']:>6}{100 * r['within_1']:>11.3f}%")
    sat = saturation(model, args.data_root, args.ids, args.device)
    print(f"fusion rules on TNO ({sat['mean']['pairs']} pairs):")
    print(f"  {'rule':<10}{'at 255':>9}{'at 0':>9}{'mean level':>12}   pair {sat['mean']['first_pair']}: at 255, mean level")
    for strategy, r in sat.items():
        print(f"  {strategy:<10}{100 * r['at_255']:>8.3f}%{100 * r['at_0']:>8.3f}%{r['mean_level']:>12.1f}"
              f"   {100 * r['first_at_255']:>8.2f}%{r['first_mean_level']:>8.1f}")
    if args.tang_reference is not None:
        print(f"mean rule vs {args.tang_reference} (tang_tno pairs):")
        for name, r in tang_reference(model, args.tang_reference, args.data_root, args.ids, args.device).items():
            print(f"  {name:<18} pairs {r['pairs']}: {100 * r['within_1']:.3f} % within one level, "
                  f"{100 * r['equal']:.2f} % equal, max |d| {r['max_abs_diff']}, mean |d| {r['mean_abs_diff']:.3f}, "
                  f"worst pair {r['worst_pair']} ({100 * r['worst_within_1']:.2f} %)")
    print(f"({time.perf_counter() - start:.0f} s)")
    ok = rec["round"]["mean_abs_diff"] <= MAX_RECONSTRUCTION_MAE and sat["mean"]["at_255"] <= MAX_DEFAULT_SATURATION
    print("PASS" if ok else f"FAIL: reconstruction mean |d| > {MAX_RECONSTRUCTION_MAE} or the mean rule saturates "
          f"more than {100 * MAX_DEFAULT_SATURATION:.0f} % of the pixels")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
