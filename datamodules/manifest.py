"""Write the sha256 manifests shipped in ``datamodules/manifests/`` from a complete data root.

Run once by a maintainer (the manifests are committed; users never run it)::

    python -m datamodules.manifest --data-root ../shared/data

For each registered dataset it records every file's sha256 and size (paths
relative to the upstream repository, as on ``raw.githubusercontent.com``).
For RoadScene it also records which pairs are the ``flir_train`` and FLIR test
pairs (the decoded IR pixels are identical) and, as ``test_ids``, the pairs
that are not training pairs: the ``roadscene_test`` dataset.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from .datasets import MANIFEST_DIR, SOURCES, get_dataset, list_datasets, natural_key, read_pair, scan_pairs
from .io import atomic_write, read_image

__all__ = ["file_record", "main", "roadscene_matches", "write_manifests"]


def file_record(path: Path) -> dict:
    """``{"sha256": hex digest, "size": bytes}`` of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"sha256": digest.hexdigest(), "size": path.stat().st_size}


def _pixel_key(image: np.ndarray) -> str:
    return hashlib.sha256(repr(image.shape).encode() + image.tobytes()).hexdigest()


def roadscene_matches(data_root: Path) -> dict:
    """Which RoadScene pairs are ``flir_train`` / FLIR test pairs, by identical decoded IR pixels.

    Returns:
        ``{"flir_train_ids": {roadscene id: flir_train id}, "flir_ids": {...},
        "test_ids": [RoadScene ids not in flir_train], "vis_mean_abs_diff": max over
        matched pairs of the mean |VIS_flir_train - VIS_roadscene| in gray levels}``.
    """
    found: dict[str, dict[str, str]] = {}
    worst = 0.0
    roadscene = {p.pair_id: p for p in scan_pairs("roadscene", data_root)}
    keys = {_pixel_key(read_image(p.ir_path)): rid for rid, p in roadscene.items()}
    for name in ("flir_train", "flir"):
        found[name] = {}
        for pair in scan_pairs(name, data_root):
            rid = keys.get(_pixel_key(read_image(pair.ir_path)))
            if rid is None:
                continue
            found[name][rid] = pair.pair_id
            if name == "flir_train":
                _, vis_rs = read_pair(roadscene[rid])
                _, vis_train = read_pair(pair)
                worst = max(worst, float(np.abs(vis_rs.astype(float) - vis_train.astype(float)).mean()))
    order = lambda d: dict(sorted(d.items(), key=lambda kv: natural_key(kv[0])))  # noqa: E731
    test_ids = sorted(set(roadscene) - set(found["flir_train"]), key=natural_key)
    return {"flir_train_ids": order(found["flir_train"]), "flir_ids": order(found["flir"]),
            "test_ids": test_ids, "vis_mean_abs_diff": round(worst, 3)}


def write_manifests(data_root: Path, out_dir: Path = MANIFEST_DIR) -> list[Path]:
    """Write ``<out_dir>/<manifest>.json`` for every dataset that owns a manifest; returns the paths."""
    written = []
    for name in list_datasets():
        spec = get_dataset(name)
        if spec.manifest != name:  # subsets (tno_gan_*, roadscene_test) share their parent's manifest
            continue
        pairs = scan_pairs(name, data_root)
        if len(pairs) != spec.pair_count:
            raise ValueError(f"dataset {name!r}: {len(pairs)} pairs under {spec.folder(data_root)}, "
                             f"the registry says {spec.pair_count}")
        base = spec.folder(data_root)
        files = {}
        for pair in pairs:
            for path in (pair.ir_path, pair.vis_path):
                files[path.relative_to(base).as_posix()] = file_record(path)
        record: dict = {"dataset": name, "description": spec.description, "pairs": len(pairs)}
        if spec.embedded:
            record["source"] = "embedded sample (see datamodules/sample/SOURCE.md)"
        else:
            source = SOURCES[spec.source]
            record.update(source=source.folder, repository=source.repository, commit=source.commit,
                          licence=source.licence)
        record["files"] = files
        if name == "roadscene":
            record.update(roadscene_matches(data_root))
        path = out_dir / f"{name}.json"
        with atomic_write(path, "w") as handle:
            json.dump(record, handle, indent=1)
            handle.write("\n")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datamodules.manifest", description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, type=Path, help="a complete data root (e.g. ../shared/data)")
    parser.add_argument("--out", type=Path, default=MANIFEST_DIR, help="output folder (default: the package's)")
    args = parser.parse_args(argv)
    for path in write_manifests(args.data_root.resolve(), args.out):
        record = json.loads(path.read_text())
        extra = f", {len(record['test_ids'])} test ids" if "test_ids" in record else ""
        print(f"{path}: {record['pairs']} pairs, {len(record['files'])} files{extra}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
