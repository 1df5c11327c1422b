"""Joining the shard dirs of one study (``ivif-bench repro-merge``) and reporting it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import pandas as pd

from benchmarks.provenance import now, read_json, write_json
from benchmarks.report.console import Reporter
from benchmarks.report.results import RunLayout, Unit
from benchmarks.run.merge import merge_results
from benchmarks.study.plan import DEFINITION_KEYS, STUDY_FILE, StudyError, seed_list
from benchmarks.study.statistics import report_study
from datamodules.io import atomic_write

__all__ = ["merge_studies"]


def merge_studies(dirs: Sequence[str | os.PathLike], out: str | os.PathLike, competitors=None,
                  wandb: str = "auto", reporter=None) -> pd.DataFrame:
    """Join the shard dirs of one study into ``out`` and report; with one dir and ``out`` the same, just report again.

    Every seed of the study must be done in exactly one dir. ``out`` gets the
    merged ``study.json``, each unit's done marker and results file (fused
    images and checkpoints stay in the shard dirs; the markers point there),
    ``results.csv`` and the report.

    Raises:
        StudyError: a dir that is not a study, shards of different studies,
            seeds done in two dirs, or seeds done in none (naming seeds and dirs).
    """
    from benchmarks.tracking import Tracker

    reporter = reporter or Reporter(progress=False)
    roots = [Path(d).expanduser().resolve() for d in dirs]
    if not roots:
        raise StudyError("repro-merge: give the study's shard dirs")
    if len(set(roots)) != len(roots):
        raise StudyError(f"repro-merge: a dir is given twice ({', '.join(str(r) for r in roots)})")
    out = Path(out).expanduser().resolve()
    records = []
    for root in roots:
        if not (root / STUDY_FILE).is_file():
            raise StudyError(f"{root}: no {STUDY_FILE}; not an ivif-bench repro dir")
        records.append(read_json(root / STUDY_FILE))
    first = records[0]
    # shards may run on nodes with other core counts: the thread counts are recorded, not required to agree
    same_study = [key for key in (*DEFINITION_KEYS, "runs", "seed0") if key != "cpus_per_run"]
    for root, record in zip(roots[1:], records[1:]):
        changed = [key for key in same_study if record.get(key) != first.get(key)]
        if changed:
            raise StudyError(f"{root} and {roots[0]} are shards of different studies (they differ in "
                             f"{', '.join(changed)}); merge the shards of one study")
    threads = sorted({int(r.get("cpus_per_run") or 0) for r in records})
    expected = [int(s) for s in first["seeds"]]
    method, datasets = first["method"], list(first["datasets"])
    where: dict[int, list[Path]] = {}
    for root in roots:
        for seed in _done_seeds(root, method, datasets):
            where.setdefault(seed, []).append(root)
    duplicated = {seed: places for seed, places in where.items() if len(places) > 1}
    if duplicated:
        lines = "; ".join(f"seed {s} in {', '.join(str(p) for p in places)}" for s, places in sorted(duplicated.items()))
        raise StudyError(f"seed(s) done in more than one dir: {lines}; keep each seed in one dir")
    missing = [seed for seed in expected if seed not in where]
    if missing:
        owners = {}
        for record, root in zip(records, roots):
            for seed in record.get("shard_seeds", []):
                owners.setdefault(int(seed), str(root))
        detail = ", ".join(f"{s} (shard dir {owners[s]})" if s in owners else f"{s} (no shard dir given holds it)"
                           for s in missing)
        raise StudyError(f"missing seed(s) of the {len(expected)}-run study: {detail}; finish those shards "
                         "(run the same repro command again) or give their dirs")
    extra = sorted(set(where) - set(expected))
    layout = RunLayout(out)
    in_place = roots == [out]
    if not in_place:
        if out in roots:
            raise StudyError(f"--out {out} is one of the shard dirs; merge into a new dir")
        if (out / STUDY_FILE).is_file():
            stored = read_json(out / STUDY_FILE)
            changed = [key for key in same_study if stored.get(key) != first.get(key)]
            if changed:
                raise StudyError(f"--out {out}: holds another study (it differs in {', '.join(changed)}); "
                                 "merge into a new dir")
        elif (out / "units").is_dir() and layout.markers():
            raise StudyError(f"--out {out}: holds other results; merge into a new dir")
        for seed in expected:
            _copy_seed(where[seed][0], out, method, seed, datasets)
        merged = {**first, "shard": [0, 1], "shard_seeds": expected, "merged_from": [str(r) for r in roots],
                  "cpus_per_run": threads[0] if len(threads) == 1 else threads,
                  "merged": now(),
                  "invocations": [dict(i, dir=str(r)) for r, rec in zip(roots, records) for i in rec.get("invocations", [])],
                  "seed_times_s": {k: v for rec in records for k, v in rec.get("seed_times_s", {}).items()}}
        write_json(out / STUDY_FILE, merged)
    if extra:
        reporter.line(f"note: seed(s) {seed_list(extra)} outside the study's {seed_list(expected)} are left out")
    if len(threads) > 1:
        reporter.line(f"note: the shards ran with different thread counts per run ({threads}); on CPU the last "
                      "digits of a seed's numbers depend on it")
    results = merge_results(layout, datasets)
    results = results[(results["method"] == method) & results["seed"].isin(expected)]
    tracker = Tracker(out, first.get("name") or f"repro-{method}", wandb)
    return report_study(out, results, method, expected, competitors=competitors,
                        title=f"Reproducibility of {method}: {first.get('name') or out.name}", tracker=tracker,
                        wandb_config={k: first.get(k) for k in (*DEFINITION_KEYS, "runs", "seed0", "name")},
                        reporter=reporter)


def _done_seeds(root: Path, method: str, datasets: Sequence[str]) -> list[int]:
    """Seeds of ``method`` with a done marker and a results file for every dataset in ``root``."""
    layout = RunLayout(root)
    seeds = []
    for seed_dir in sorted((root / "units" / method).glob("seed*")):
        try:
            seed = int(seed_dir.name[4:])
        except ValueError:
            continue
        units = [Unit(method, seed, d) for d in datasets]
        if all(layout.marker(u).is_file() and layout.results_file(u).is_file() for u in units):
            seeds.append(seed)
    return seeds


def _copy_seed(source: Path, out: Path, method: str, seed: int, datasets: Sequence[str]) -> None:
    """Copy one seed's results files and markers (markers last); the marker's paths are made to point at ``source``."""
    src, dst = RunLayout(source), RunLayout(out)
    for dataset in datasets:
        unit = Unit(method, seed, dataset)
        with atomic_write(dst.results_file(unit), "wb") as handle:
            handle.write(src.results_file(unit).read_bytes())
        marker = read_json(src.marker(unit))
        if marker.get("fused_dir"):
            marker["fused_dir"] = os.path.relpath(source / marker["fused_dir"], out)
        marker["merged_from"] = str(source)
        write_json(dst.marker(unit), marker)

