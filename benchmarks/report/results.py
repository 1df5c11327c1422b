"""The results schema: where each file of a run dir lives, and the per-image result rows.

A run dir (``ivif-bench run --out RUN``, also a study dir of ``ivif-bench repro``)::

    provenance.json                     argv, seeds, resolved configs, versions, device, git (latest + history)
    metrics.json                        per metric: direction, unit, convention, definition (the metric facts)
    methods.json                        per method: class, reference rule or trained
    units/<method>/seed<k>/config.yaml  the resolved config of that training (trainable methods)
    units/<method>/seed<k>/training.json  how the model was obtained (trained / resumed / reused), times
    units/<method>/seed<k>/<dataset>.done.json  done marker: pairs, metrics, checkpoint sha256, weights origin, timings
    checkpoints/<method>/seed<k>/{last,interrupted,final}.ckpt  (every N steps / on an exception / done)
    fused/<method>/<dataset>/<pair_id>.png          (one seed)
    fused/<method>/seed<k>/<dataset>/<pair_id>.png  (several seeds)
    results/<method>/seed<k>/<dataset>.csv  per-image rows of the unit
    results.csv                         every done unit's rows: one per (method, seed, dataset, image, metric),
                                        with the ``weights`` column: where the model's weights came from
    fused_stats.csv                     each fused image's 8-bit min / max / std, constant flag (report.degenerate)
    leaderboard.{csv,md,tex}, plots/*.{png,pdf}, wandb/

Every file is written atomically (temp file + rename); markers last, so a unit
is either done with all its files or redone. This module only reads and names
files: it imports no torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from benchmarks.provenance import read_json
from datamodules.errors import DataNotFoundError, UserError

__all__ = ["KEY", "OPTIONAL_COLUMNS", "RESULT_COLUMNS", "RunLayout", "Unit", "WEIGHTS_COLUMN", "describe_weights",
           "marker_weights", "read_results", "read_results_file", "weights_label"]

#: columns of every per-image results file (one row per method, seed, dataset, image, metric)
RESULT_COLUMNS = ["method", "seed", "dataset", "image", "metric", "value", "convention"]
#: columns a results file holds after :data:`RESULT_COLUMNS`, each with the value a file written without it
#: gets: ``color_rule``, the colour rule the row's metric applied (``gray``: every input gray; results
#: written before colour fusion existed were all gray)
OPTIONAL_COLUMNS = {"color_rule": "gray"}
#: what makes a row unique
KEY = ["method", "seed", "dataset", "image", "metric", "convention"]
#: the column of ``results.csv`` (after :data:`RESULT_COLUMNS`) saying where a row's model weights came from
#: (:func:`weights_label`); results written before it have none
WEIGHTS_COLUMN = "weights"


@dataclass(frozen=True)
class Unit:
    """One unit of work: a method's fusion of one test set under one seed."""

    method: str
    seed: int
    dataset: str

    def __str__(self) -> str:
        return f"{self.method}/seed{self.seed}/{self.dataset}"


class RunLayout:
    """Where each file of a run dir lives (see the module docstring)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    provenance = property(lambda self: self.root / "provenance.json")
    results = property(lambda self: self.root / "results.csv")
    metric_facts = property(lambda self: self.root / "metrics.json")
    method_facts = property(lambda self: self.root / "methods.json")
    plots = property(lambda self: self.root / "plots")
    lock = property(lambda self: self.root / ".lock")
    leaderboard_wandb = property(lambda self: self.root / "units" / "leaderboard.wandb.json")

    def unit_dir(self, method: str, seed: int) -> Path:
        return self.root / "units" / method / f"seed{seed}"

    def marker(self, unit: Unit) -> Path:
        return self.unit_dir(unit.method, unit.seed) / f"{unit.dataset}.done.json"

    def config_file(self, method: str, seed: int) -> Path:
        return self.unit_dir(method, seed) / "config.yaml"

    def training_record(self, method: str, seed: int) -> Path:
        return self.unit_dir(method, seed) / "training.json"

    def wandb_record(self, method: str, seed: int) -> Path:
        return self.unit_dir(method, seed) / "wandb.json"

    def checkpoint_dir(self, method: str, seed: int) -> Path:
        return self.root / "checkpoints" / method / f"seed{seed}"

    def final_checkpoint(self, method: str, seed: int) -> Path:
        return self.checkpoint_dir(method, seed) / "final.ckpt"

    def last_checkpoint(self, method: str, seed: int) -> Path:
        return self.checkpoint_dir(method, seed) / "last.ckpt"

    def interrupted_checkpoint(self, method: str, seed: int) -> Path:
        return self.checkpoint_dir(method, seed) / "interrupted.ckpt"

    def fused_dir(self, unit: Unit, seed_level: bool) -> Path:
        """``fused/<method>/<dataset>``, or ``fused/<method>/seed<k>/<dataset>`` with ``seed_level``."""
        seed_part = (f"seed{unit.seed}",) if seed_level else ()
        return self.root.joinpath("fused", unit.method, *seed_part, unit.dataset)

    def results_file(self, unit: Unit) -> Path:
        return self.root / "results" / unit.method / f"seed{unit.seed}" / f"{unit.dataset}.csv"

    def marker_of(self, marker: dict[str, Any]) -> Path:
        """The file of a done marker read by :meth:`markers`."""
        return self.marker(Unit(marker["method"], int(marker["seed"]), marker["dataset"]))

    def markers(self) -> list[dict[str, Any]]:
        """Every done marker of the run dir, in (method, seed, dataset) path order."""
        return [read_json(p) for p in sorted((self.root / "units").glob("*/seed*/*.done.json"))]

    def datasets(self) -> list[str]:
        """The run's test sets in the run's order (``provenance.json``), then any other done one."""
        markers = self.markers()
        run_order = list(read_json(self.provenance).get("pairs", {})) if self.provenance.is_file() else []
        done = [m["dataset"] for m in markers]
        return list(dict.fromkeys([d for d in run_order if d in done] + done))


def read_results(run_dirs: str | os.PathLike | Iterable[str | os.PathLike]) -> pd.DataFrame:
    """Per-image results of one or several run dirs (their ``results.csv``), one row per key.

    Rows repeated with the same value across runs (the reference rules in two
    runs of one seed) are kept once.

    Raises:
        FileNotFoundError: a run dir without ``results.csv``.
        ValueError: the same (method, seed, dataset, image, metric, convention)
            with different values in two runs.
    """
    if isinstance(run_dirs, (str, os.PathLike)):
        run_dirs = [run_dirs]
    frames = []
    for run in run_dirs:
        path = Path(run) / "results.csv"
        if not path.is_file():
            raise DataNotFoundError(f"{run}: no results.csv here; is it an ivif-bench run dir (ivif-bench run --out DIR)?")
        frame = read_results_file(path)
        frame["run"] = str(run)
        frames.append(frame)
    if not frames:
        raise ValueError("no run dir given")
    results = pd.concat(frames, ignore_index=True)
    repeated = results[results.duplicated(KEY, keep=False)]
    if not repeated.empty:
        spread = repeated.groupby(KEY)["value"].agg(lambda v: np.nanmax(v) - np.nanmin(v) if v.notna().any() else 0.0)
        conflict = spread[spread.abs() > 1e-9]
        if not conflict.empty:
            key = dict(zip(KEY, conflict.index[0]))
            runs = ", ".join(repeated.set_index(KEY).loc[conflict.index[0], "run"].astype(str))
            raise UserError(f"runs {runs} disagree on {key}; combine runs with different seeds or methods only")
    return results.drop_duplicates(KEY).drop(columns="run").reset_index(drop=True)


def read_results_file(path: str | os.PathLike) -> pd.DataFrame:
    """One per-image results CSV, checked for the :data:`RESULT_COLUMNS` (plus :data:`OPTIONAL_COLUMNS`, filled
    with their defaults where the file has none, and :data:`WEIGHTS_COLUMN` kept if there)."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype={"image": str, "method": str, "dataset": str, "metric": str, "convention": str,
                                         WEIGHTS_COLUMN: str, **{column: str for column in OPTIONAL_COLUMNS}},
                            keep_default_na=True)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise UserError(f"{path}: not a readable results CSV ({err})") from None
    missing = [c for c in RESULT_COLUMNS if c not in frame.columns]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(RESULT_COLUMNS)}")
    for column, default in OPTIONAL_COLUMNS.items():
        if column not in frame.columns:
            frame[column] = default
    return frame[RESULT_COLUMNS + list(OPTIONAL_COLUMNS) + ([WEIGHTS_COLUMN] if WEIGHTS_COLUMN in frame.columns else [])]


# ------------------------------------------------------------------ where the weights came from
def weights_label(record: dict[str, Any] | None) -> str:
    """The ``weights`` value of a done marker's ``"weights"`` record (:mod:`benchmarks.run.weights`):

    ``none`` (a reference rule), ``official:<artifact>`` (the authors' released weights),
    ``trained:<profile>:seed<k>`` (trained in the run dir), ``checkpoint:<path>`` (``--ckpt METHOD=PATH``),
    ``unknown`` (no record).
    """
    kind = (record or {}).get("kind")
    if kind == "none":
        return "none"
    if kind == "official":
        return f"official:{record['artifact']}"
    if kind == "trained":
        return f"trained:{record.get('profile') or '?'}:seed{record['seed']}"
    if kind == "checkpoint":
        return f"checkpoint:{record['checkpoint']}"
    return "unknown"


def marker_weights(marker: dict[str, Any], layout: RunLayout) -> str:
    """The ``weights`` value of a done marker: its record, else (a marker written before records existed) what
    its method facts and checkpoint say: a reference rule, this run dir's ``final.ckpt``, or a user checkpoint."""
    if "weights" in marker:
        return weights_label(marker["weights"])
    if not (marker.get("method_facts") or {}).get("needs_training", True):
        return "none"
    checkpoint = marker.get("checkpoint")
    if not checkpoint:
        return "unknown"
    if Path(checkpoint).resolve() == layout.final_checkpoint(marker["method"], int(marker["seed"])).resolve():
        profile = read_json(layout.provenance).get("profile") if layout.provenance.is_file() else None
        return f"trained:{profile or '?'}:seed{marker['seed']}"
    return f"checkpoint:{checkpoint}"


def describe_weights(labels: Iterable[str], short: bool = False) -> str:
    """One text for the ``weights`` values of a leaderboard cell (a method on a test set, over its seeds).

    ``official (didfuse_weights)``, ``trained (quick, seed 0)``, ``trained (quick, seeds 0-4)``,
    ``checkpoint (/path/final.ckpt)`` (``short``: the file name only), ``none``; several kinds are
    joined with ``" + "``; NaN / empty values read as ``unknown``.
    """
    trained: dict[str, list[int]] = {}
    parts: list[str] = []
    for label in dict.fromkeys("unknown" if not isinstance(v, str) or not v else v for v in labels):
        kind, _, rest = label.partition(":")
        if kind == "trained":
            profile, _, seed = rest.rpartition(":")
            trained.setdefault(profile, []).append(int(seed[4:]) if seed[4:].isdigit() else -1)
        elif kind == "official":
            parts.append(f"official ({rest})")
        elif kind == "checkpoint":
            parts.append(f"checkpoint ({Path(rest).name if short else rest})")
        else:
            parts.append(label)
    for profile, seeds in trained.items():
        seeds = sorted(set(seeds))
        span = (f"seed {seeds[0]}" if len(seeds) == 1 else
                f"seeds {seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else
                f"{len(seeds)} seeds")
        parts.insert(0, f"trained ({profile}, {span})")
    return " + ".join(parts)
