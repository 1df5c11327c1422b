"""Large images: tiled fusion equals untiled fusion, and what fusing and evaluating a 6000 x 4000 pair costs.

Three measurements, each in a fresh subprocess (so that its peak resident memory is its own) on
one CPU thread, on a pair built from real data: TNO pair 4 (IR, VIS) mirrored out to the target
size (``numpy.pad(mode="symmetric")``, so the content is real infrared and visible structure, seams
included):

* ``equal``: DIDFuse (released weights) fuses a crop of ``--crop`` (default 1200 x 1000, across the
  mirror seams) whole and with :meth:`FusionModule.fuse_large` in tiles forced by
  ``max_pixels=1``: the largest difference and whether the 8-bit images are equal;
* ``fuse``: DIDFuse fuses the ``--size`` pair with ``fuse_large`` (tiled above 2**20 pixels):
  CPU seconds, wall seconds, peak RSS;
* ``evaluate``: the default suite (every metric of the default convention) on the ``--size``
  pair, its fused image the pixel average of IR and VIS, through the engine ``ivif-bench evaluate``
  runs (:func:`metrics.engine.image_values`): CPU and wall seconds, peak RSS.

It prints a Markdown table (and ``--json`` writes the figures). ``--tiny`` runs everything at
96 x 64 with a 64 x 48 crop in seconds (the test's mode); ``--skip fuse`` leaves a step out.

  python -m benchmarks.speed.large_images --data-root ../shared/data                # 6000 x 4000, ~30 min CPU
  python -m benchmarks.speed.large_images --data-root ../shared/data --skip fuse,equal
  python -m benchmarks.speed.large_images --data-root ../shared/data --tiny
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

STEPS = ("equal", "fuse", "evaluate")


def _mirror(image, height: int, width: int):
    import numpy as np

    reps = (-(-height // image.shape[0]), -(-width // image.shape[1]))
    pad = [(0, reps[0] * image.shape[0] - image.shape[0]), (0, reps[1] * image.shape[1] - image.shape[1])]
    return np.pad(image, pad + [(0, 0)] * (image.ndim - 2), mode="symmetric")[:height, :width]


def large_pair(data_root: str | None, height: int, width: int):
    """TNO pair 4 (uint8 IR, VIS) mirrored out to ``height`` x ``width``."""
    from datamodules import load_pairs, read_pair

    ir, vis = read_pair(load_pairs("tno", data_root, ids="4")[0])
    return _mirror(ir, height, width), _mirror(vis, height, width)


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def run_step(step: str, data_root: str | None, height: int, width: int, crop: tuple[int, int]) -> dict:
    """One measurement in this process (call it in a fresh one: the peak RSS is the process's)."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    ir, vis = large_pair(data_root, height, width)
    out: dict = {"step": step, "size": f"{width} x {height}", "rss_before_gb": round(_peak_gb(), 2)}
    if step in ("equal", "fuse"):
        from datamodules.io import quantize_8bit, to_tensor
        from lightning_modules.didfuse import DIDFuse

        model = DIDFuse.from_data_root(data_root).eval()
        a, b = (to_tensor(x)[None] for x in (ir, vis))
        if step == "equal":
            ch, cw = crop
            top, left = max(0, (height - ch) // 2), max(0, (width - cw) // 2)
            a, b = a[..., top:top + ch, left:left + cw], b[..., top:top + ch, left:left + cw]
            with torch.no_grad():
                tiled = model.fuse_large(a, b, max_pixels=1, tile=max(16, min(ch, cw) // 3))
                whole = model.fuse(a, b)
            out.update(size=f"{a.shape[-1]} x {a.shape[-2]}", max_abs_diff=float((tiled - whole).abs().max()),
                       eight_bit_equal=bool(torch.equal(quantize_8bit(tiled), quantize_8bit(whole))))
            return out
        cpu, wall = time.process_time(), time.perf_counter()
        with torch.no_grad():
            model.fuse_large(a, b)
        out.update(cpu_s=round(time.process_time() - cpu, 1), wall_s=round(time.perf_counter() - wall, 1))
    else:
        import metrics
        from metrics.engine import image_values, resolve_plan

        fused = ((ir.astype(np.uint16) + vis) // 2).astype(np.uint8)
        plan = resolve_plan([(name, "default") for name in metrics.list_metrics("default")])
        cpu, wall = time.process_time(), time.perf_counter()
        values, _ = image_values(plan, fused, ir, vis)
        out.update(cpu_s=round(time.process_time() - cpu, 1), wall_s=round(time.perf_counter() - wall, 1),
                   metrics=len(plan), finite=int(sum(np.isfinite(v) for v, _ in values)))
    out["peak_rss_gb"] = round(_peak_gb(), 2)
    return out


def _table(rows: list[dict]) -> str:
    lines = ["| step | size | CPU s | wall s | peak RSS GB | notes |", "|---|---|---|---|---|---|"]
    for r in rows:
        notes = (f"max |tiled - whole| {r['max_abs_diff']:.2e}, 8-bit equal: {r['eight_bit_equal']}"
                 if r["step"] == "equal" else
                 f"{r['finite']} of {r['metrics']} metrics finite" if r["step"] == "evaluate" else "DIDFuse, fuse_large")
        lines.append(f"| {r['step']} | {r['size']} | {r.get('cpu_s', '-')} | {r.get('wall_s', '-')} | "
                     f"{r.get('peak_rss_gb', '-')} | {notes} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None, help="data root holding the TNO pairs and DIDFuse's weights")
    parser.add_argument("--size", default="6000x4000", help="W x H of the large pair (default 6000x4000)")
    parser.add_argument("--crop", default="1200x1000", help="W x H of the tiled-vs-whole crop (default 1200x1000)")
    parser.add_argument("--skip", default="", help=f"comma-separated steps to leave out ({', '.join(STEPS)})")
    parser.add_argument("--tiny", action="store_true", help="96 x 64 pair, 64 x 48 crop: seconds (the test's mode)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)  # internal: one step, in this process
    args = parser.parse_args(argv)
    size, crop = ("96x64", "64x48") if args.tiny else (args.size, args.crop)
    width, height = (int(v) for v in size.lower().split("x"))
    crop_hw = tuple(int(v) for v in crop.lower().split("x"))[::-1]
    if args.step:
        print(json.dumps(run_step(args.step, args.data_root, height, width, crop_hw)))
        return 0
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    rows = []
    for step in STEPS:
        if step in skip:
            continue
        command = [sys.executable, "-m", "benchmarks.speed.large_images", "--step", step, "--size", size,
                   "--crop", crop] + (["--data-root", str(args.data_root)] if args.data_root else [])
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            return done.returncode
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(_table(rows))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
