"""Bit-for-bit check of every metric of every convention against another commit of ivif-bench.

A speed change must not move a single bit of any value (float64 on CPU). This script
computes every (convention, metric) on real images -- TNO / FLIR / NIR pairs with the
DIDFuse authors' released fused images, of every size class -- and on constructed
degenerate ones (constant, black, white, tiny), with one CPU thread, then compares:

* ``--against REV``: the tree of git revision REV (``git archive`` into a temporary
  folder outside the checkout, run in a subprocess with ``PYTHONPATH`` pointing at it)
  computes the reference values through each metric's functional, one image at a time;
  this tree then computes them through every evaluation path it has (the functional one
  image at a time, ``evaluate_tensors`` on same-size batches, and the engine of
  ``ivif-bench evaluate`` -- every metric in one plan per image, shared work included,
  in worker processes -- when it has one), and every value must equal its reference bit
  for bit (NaN equals NaN). Exit 1 naming each difference.
* ``--save FILE`` / ``--compare FILE``: the same with a stored reference (JSON of
  ``float.hex`` values).

The images are read here with PIL's "L" conversion and handed to both trees as the same
uint8 arrays, so only the metric code differs.

  python benchmarks/speed/bitwise_check.py --against main --data-root ../shared/data
  python benchmarks/speed/bitwise_check.py --against HEAD~3 --quick        # 6 images, a minute
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
TNO = "IVIF-DIDFuse/Datasets/Test_data_TNO/{s}{k}.bmp"
FUSED = {"tno": "IVIF-DIDFuse/Test_result/TNO_IJCAI/F{k}.png", "flir": "IVIF-DIDFuse/Test_result/FLIR_IJCAI/F{k}.png",
         "nir": "IVIF-DIDFuse/Test_result/NIR_IJCAI/F{k}.png"}
SOURCES = {"tno": "IVIF-DIDFuse/Datasets/Test_data_TNO/{s}{k}.bmp",
           "flir": "IVIF-DIDFuse/Datasets/Test_data_FLIR/{s}{k}.jpg",
           "nir": "IVIF-DIDFuse/Datasets/Test_data_NIR_Country/{s}{k}.png"}
#: (set, pair) of the full check: every TNO size class (768 x 576 x 3, 620 x 450 x 3, 360 x 270, 280 x 280, ...),
#: two same-size pairs for the batched path, a few FLIR / NIR pairs.
FULL = ([("tno", k) for k in (1, 2, 3, 4, 5, 8, 10, 12, 16, 17, 20, 22, 27, 33, 38, 40)]
        + [("flir", k) for k in (1, 2, 7)] + [("nir", k) for k in (1, 2, 5)])
QUICK = [("tno", 5), ("tno", 8), ("flir", 7)]


def _read(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.uint8).copy()


def load_images(data_root: Path, quick: bool) -> dict[str, np.ndarray]:
    """name -> uint8 3 x H x W (fused, IR, VIS): real pairs, then constructed degenerate triplets."""
    images = {}
    for dataset, k in QUICK if quick else FULL:
        fused = _read(data_root / FUSED[dataset].format(k=k))
        ir, vis = (_read(data_root / SOURCES[dataset].format(s=s, k=k)) for s in ("IR", "VIS"))
        images[f"{dataset}{k}"] = np.stack([fused, ir, vis])
    f, a, b = images["tno5"] if "tno5" in images else next(iter(images.values()))
    crop = np.s_[:200, :200]
    images["fused_gray128"] = np.stack([np.full_like(f[crop], 128), a[crop], b[crop]])
    images["fused_black"] = np.stack([np.zeros_like(f[crop]), a[crop], b[crop]])
    images["fused_white"] = np.stack([np.full_like(f[crop], 255), a[crop], b[crop]])
    images["sources_black"] = np.stack([f[crop], np.zeros_like(a[crop]), np.zeros_like(b[crop])])
    images["ir_constant"] = np.stack([f[crop], np.full_like(a[crop], 77), b[crop]])
    images["all_equal"] = np.stack([f[crop], f[crop], f[crop]])
    images["tiny_9x9"] = np.stack([f[:9, :9], a[:9, :9], b[:9, :9]])
    images["tiny_2x3"] = np.stack([f[:2, :3], a[:2, :3], b[:2, :3]])
    images["tiny_1x1"] = np.stack([f[:1, :1], a[:1, :1], b[:1, :1]])
    images["strip_40x300"] = np.stack([f[:40, :300], a[:40, :300], b[:40, :300]])
    return images


def _encode(value: float) -> str:
    return "nan" if math.isnan(value) else float(value).hex()


def _plans():
    import metrics  # noqa: F401  (fills the registry)
    from metrics.registry import get_metric_info, list_conventions, list_metrics

    return [get_metric_info(name, convention) for convention in list_conventions() for name in list_metrics(convention)]


def reference_values(images: dict[str, np.ndarray]) -> dict[str, str]:
    """'convention/metric/image' -> float.hex of the functional on that one image (1 x 1 x H x W float64)."""
    import torch

    torch.set_num_threads(1)
    out = {}
    for name, triplet in images.items():
        tensors = [torch.from_numpy(x).to(torch.float64).div(255).view(1, 1, *x.shape) for x in triplet]
        for info in _plans():
            key = f"{info.convention}/{info.name}/{name}"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    with torch.no_grad():
                        out[key] = _encode(info.functional(*tensors, **info.options).item())
                except Exception as err:  # noqa: BLE001  (an error is a value too: it must stay the same)
                    out[key] = f"error: {type(err).__name__}"
    return out


def batched_values(images: dict[str, np.ndarray]) -> dict[str, str]:
    """The same through ``evaluate_tensors`` on batches of same-size images (real pairs only)."""
    import torch
    from metrics.evaluate import evaluate_tensors

    torch.set_num_threads(1)
    groups: dict[tuple, list[str]] = {}
    for name, triplet in images.items():
        if triplet.shape[1] >= 41 and not name.startswith(("fused_", "sources_", "ir_", "all_")):
            groups.setdefault(triplet.shape, []).append(name)
    out = {}
    for names in groups.values():
        stack = np.stack([images[n] for n in names])  # N x 3 x H x W
        batch = [torch.from_numpy(stack[:, i]).to(torch.float64).div(255).unsqueeze(1) for i in range(3)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = evaluate_tensors(*batch, metrics="all", convention="all", image_ids=names)
        for row in table.itertuples():
            out[f"{row.convention}/{row.metric}/{row.image}"] = _encode(row.value)
    return out


def _triplet(array: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return array[0], array[1], array[2]


def engine_values(images: dict[str, np.ndarray], workers: int) -> dict[str, str] | None:
    """The same through the engine ``ivif-bench evaluate`` runs (every metric of every convention in one plan per
    image, shared work included), in ``workers`` processes; ``None`` for a tree without it."""
    from functools import partial

    try:
        from metrics.engine import Job, JobRunner
    except ImportError:
        return None
    from metrics.registry import list_conventions, list_metrics

    keys = [(name, convention) for convention in list_conventions() for name in list_metrics(convention)]
    names = list(images)
    jobs = [Job(i, name, partial(_triplet, images[name]), images[name][0].size) for i, name in enumerate(names)]
    out = {}
    with warnings.catch_warnings(), JobRunner(keys, workers=workers, jobs=len(jobs)) as runner:
        warnings.simplefilter("ignore")
        for job, values, _ in runner.run(jobs):
            for (name, convention), value in zip(keys, values):
                out[f"{convention}/{name}/{job.image_id}"] = _encode(value[0] if isinstance(value, tuple) else value)
    return out


def compare(reference: dict[str, str], values: dict[str, str], label: str) -> list[str]:
    problems = []
    for key, value in values.items():
        if key not in reference:
            problems.append(f"{label}: {key} is new (no reference value)")
        elif value != reference[key]:
            problems.append(f"{label}: {key}: {value} != reference {reference[key]}")
    return problems


def _reference_from(rev: str, images_file: Path, out_file: Path, tmp: Path) -> None:
    tree = tmp / "tree"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "metrics", "datamodules"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, __file__, "--child", str(images_file), str(out_file)], check=True, env=env,
                   cwd=tmp)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--against", default=None, help="git revision whose values are the reference")
    parser.add_argument("--save", type=Path, default=None, help="write this tree's values (JSON) here")
    parser.add_argument("--compare", type=Path, default=None, help="compare with values saved by --save")
    parser.add_argument("--quick", action="store_true", help="3 real pairs and the degenerate images")
    parser.add_argument("--workers", type=int, default=2, help="worker processes for the engine path")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:  # inside the reference tree
        with np.load(args.child[0]) as data:
            images = {name: data[name] for name in data.files}
        args.child[1].write_text(json.dumps(reference_values(images)))
        return 0

    start = time.perf_counter()
    images = load_images(args.data_root, args.quick)
    if args.against:
        with tempfile.TemporaryDirectory(prefix="ivif-bench-bitwise-") as tmp:
            images_file, out_file = Path(tmp) / "images.npz", Path(tmp) / "reference.json"
            np.savez(images_file, **images)
            _reference_from(args.against, images_file, out_file, Path(tmp))
            reference = json.loads(out_file.read_text())
    elif args.compare:
        reference = json.loads(args.compare.read_text())
    else:
        reference = None

    sys.path.insert(0, str(REPO))
    mine = reference_values(images)
    if args.save:
        args.save.write_text(json.dumps(mine, indent=0))
    if reference is None:
        print(f"{len(mine)} values of {len(images)} images written to {args.save}")
        return 0
    problems = compare(reference, mine, "functional")
    problems += [f"functional: {key} is missing" for key in reference if key not in mine]
    problems += compare(reference, batched_values(images), "batched")
    engine = engine_values(images, args.workers)
    if engine is not None:
        problems += compare(reference, engine, f"engine ({args.workers} workers)")
    for line in problems[:60]:
        print(line)
    paths = "functional, batched" + (", engine" if engine is not None else "")
    print(f"{len(reference)} reference values ({len(images)} images); paths checked: {paths}; "
          f"{len(problems)} difference(s); {time.perf_counter() - start:.0f} s")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
