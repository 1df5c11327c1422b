"""The colour transform's figures (datamodules/color.py): luminance kept, clipping, distance from Pillow's "YCbCr".

Not a test (the tests pin the exhaustive facts in ``tests/datamodules/test_color.py``);
it prints the figures the module docstring and the README quote:

1. ``cube``: over all 2**24 (Y, Cb, Cr) triples, how many need no clipping and at how
   many of those PIL "L" of the inverse is Y; over all 2**24 RGB colours and YCbCr
   triples, where each channel differs from Pillow's ``convert("YCbCr")`` /
   ``convert("RGB")`` and by how much; the round trip RGB -> YCbCr -> RGB.
2. ``vifb``: VIFB's 21 colour pairs fused in colour by each method given (the reference
   rules by default; a run dir's trained methods with ``--run``, from its fused PNGs and
   done markers, which record each image's clipped share as it was fused): the share of
   pixels whose RGB clipped, and at how many pixels the PNG's PIL "L" equals the fused Y. For comparison the same fused Y put back with
   Pillow's YCbCr -> RGB and read back with Pillow's Y (the round-1 transform).

Example:
    python -m benchmarks.verify.color_transform --data-root ../shared/data
    python -m benchmarks.verify.color_transform --data-root ../shared/data --run runs/vifb-quick --skip-cube
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from datamodules.color import rgb_to_ycbcr, ycbcr_to_rgb
from datamodules.io import gray_from_rgb, read_image


def _cube_rows(start: int, stop: int) -> np.ndarray:
    v = np.arange(start * 4096, stop * 4096, dtype=np.uint32)
    return np.stack([(v >> 16) & 255, (v >> 8) & 255, v & 255], -1).astype(np.uint8).reshape(-1, 4096, 3)


def cube() -> None:
    """Part 1: every triple, 2**21 at a time."""
    unclipped = kept = 0
    forward, inverse, inverse_any, trip, trip_max = np.zeros(3), np.zeros(3), 0, 0.0, 0
    forward_max = inverse_max = 0
    for start in range(0, 4096, 512):
        triples = _cube_rows(start, start + 512)
        rgb, clipped = ycbcr_to_rgb(triples, return_clipped=True)
        unclipped += int((~clipped).sum())
        kept += int((gray_from_rgb(rgb) == triples[..., 0])[~clipped].sum())
        f = np.abs(rgb_to_ycbcr(triples).astype(int) - np.asarray(Image.fromarray(triples).convert("YCbCr")))
        i = np.abs(rgb.astype(int) - np.asarray(Image.fromarray(triples, mode="YCbCr").convert("RGB")))
        forward += (f > 0).sum(axis=(0, 1))
        inverse += (i > 0).sum(axis=(0, 1))
        inverse_any += int((i > 0).any(-1).sum())
        forward_max, inverse_max = max(forward_max, int(f.max())), max(inverse_max, int(i.max()))
        error = np.abs(ycbcr_to_rgb(rgb_to_ycbcr(triples)).astype(int) - triples)
        trip += float(error.sum())
        trip_max = max(trip_max, int(error.max()))
    n = 1 << 24
    print(f"cube: {unclipped:,} of the 2^24 YCbCr triples need no clipping ({100 * unclipped / n:.1f} %); "
          f"PIL 'L' of the inverse = Y at {kept:,} of them ({100 * kept / unclipped:.3f} %)")
    print(f"cube: forward vs Pillow 'YCbCr': Y / Cb / Cr differ at "
          f"{' / '.join(f'{100 * x / n:.1f} %' for x in forward)} of the colours, by at most {forward_max}")
    print(f"cube: inverse vs Pillow 'RGB': R / G / B differ at "
          f"{' / '.join(f'{100 * x / n:.1f} %' for x in inverse)} of the triples ({100 * inverse_any / n:.1f} % "
          f"in some channel), by at most {inverse_max}")
    print(f"cube: round trip RGB -> YCbCr -> RGB: at most {trip_max} level, mean {trip / (3 * n):.3f}")


def _shares(y: np.ndarray, vis: np.ndarray) -> tuple[float, float, float]:
    """(clipped share, share with L(PNG) = Y, share with Pillow's read-back Y = Y after Pillow's inverse)."""
    ycc = rgb_to_ycbcr(vis)
    merged = np.stack([y, ycc[..., 1], ycc[..., 2]], -1)
    rgb, clipped = ycbcr_to_rgb(merged, return_clipped=True)
    equal = float((gray_from_rgb(rgb) == y).mean())
    pillow_ycc = np.asarray(Image.fromarray(vis).convert("YCbCr")).copy()
    pillow_ycc[..., 0] = y
    pillow_rgb = Image.fromarray(pillow_ycc, mode="YCbCr").convert("RGB")
    pillow_equal = float((np.asarray(pillow_rgb.convert("YCbCr"))[..., 0] == y).mean())
    return float(clipped.mean()), equal, pillow_equal


def vifb(data_root: str, run: Path | None, methods: list[str]) -> None:
    """Part 2: VIFB's 21 pairs."""
    from benchmarks.report.results import RunLayout
    from datamodules import load_pairs

    pairs = load_pairs("vifb", data_root)
    fusions: dict[str, dict[str, np.ndarray]] = {}
    for method in methods:  # reference rules, fused here
        rule = {"average": lambda a, b: np.rint((a.astype(np.float64) + b) / 2).astype(np.uint8),
                "max": np.maximum}[method]
        fusions[method] = {}
        for pair in pairs:
            ir = read_image(pair.ir_path, mode="gray")
            vis = read_image(pair.vis_path, mode="native")
            fusions[method][pair.pair_id] = rule(ir, rgb_to_ycbcr(vis)[..., 0])
    print(f"vifb: {len(pairs)} pairs, {sum(p.size for p in fusions[methods[0]].values()) if methods else 0:,} pixels")
    print("| method | RGB clipped | PNG's PIL 'L' = fused Y | Pillow's round-1 read-back Y = fused Y |")
    print("|---|---:|---:|---:|")
    for method, images in fusions.items():
        _report(method, [(images[p.pair_id], read_image(p.vis_path, mode="native")) for p in pairs])
    if run is None:
        return
    layout = RunLayout(run)
    print(f"| method ({run}: from the done markers, recorded as it fused) | RGB clipped | | |")
    for marker in layout.markers():
        record = marker.get("color") or {}
        if marker["dataset"] != "vifb" or record.get("fusion") != "rgb":
            continue
        sizes = {p.pair_id: read_image(p.vis_path, mode="native")[..., 0].size for p in pairs}
        clipped = sum(share * sizes[pair_id] for pair_id, share in record["clipped"].items())
        total = sum(sizes[pair_id] for pair_id in record["clipped"])
        print(f"| {marker['method']} (seed {marker['seed']}) | {100 * clipped / total:.2f} % | | |")


def _report(name: str, images: list[tuple[np.ndarray, np.ndarray]]) -> None:
    total = sum(y.size for y, _ in images)
    clipped = equal = pillow = 0.0
    for y, vis in images:
        c, e, p = _shares(y, vis)
        clipped, equal, pillow = clipped + c * y.size, equal + e * y.size, pillow + p * y.size
    print(f"| {name} | {100 * clipped / total:.2f} % | {100 * equal / total:.2f} % | {100 * pillow / total:.1f} % |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--run", type=Path, default=None, help="a run dir with VIFB fused in colour")
    parser.add_argument("--methods", default="average,max", help="reference rules fused here ('' for none)")
    parser.add_argument("--skip-cube", action="store_true")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    if not args.skip_cube:
        cube()
    vifb(args.data_root, args.run, [m for m in args.methods.split(",") if m])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
