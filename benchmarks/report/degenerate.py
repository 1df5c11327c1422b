"""Constant fused images: measured per image, flagged in the run's output, the leaderboard and W&B.

A method that outputs (almost) the same gray level everywhere (the GANs after
a few smoke steps output 128 everywhere) gets metric values that measure no
fusion. The runner measures every fused PNG it writes (:func:`fused_image_stats`)
and records the numbers in the unit's done marker; ``RUN/fused_stats.csv``
gathers them (:data:`STATS_COLUMNS`), and the leaderboard marks a method whose
fused images of a test set are flagged.

The rule (:data:`CONSTANT_STD_LEVELS`): an image is *constant* when the
population standard deviation of its 8-bit values is below 1 gray level (for
a colour PNG: of its luminance, PIL "L", which is the method's fused Y: the
chroma of a colour fusion is the visible image's, not the method's). That is SD < 1 in the SD metric's units, where
real fusions of TNO / FLIR / NIR score 20-65; an image whose values all lie
within 2 neighbouring levels has SD <= 1 and is caught. Imports no torch.

Example:
    >>> is_constant(0.0), is_constant(0.99), is_constant(1.0)
    (True, True, False)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["CONSTANT_STD_LEVELS", "STATS_COLUMNS", "STATS_FILE", "constant_counts", "describe", "fused_image_stats",
           "is_constant", "read_fused_stats", "stats_rows"]

#: a fused image is flagged constant when the standard deviation of its 8-bit values is below this (gray levels)
CONSTANT_STD_LEVELS = 1.0
STATS_FILE = "fused_stats.csv"
#: columns of ``RUN/fused_stats.csv``: one row per fused image (8-bit values: min, max, population std)
STATS_COLUMNS = ["method", "seed", "dataset", "image", "min", "max", "std", "constant"]


def is_constant(std: float) -> bool:
    """Whether an image with this 8-bit standard deviation (gray levels) is flagged constant."""
    return bool(std < CONSTANT_STD_LEVELS)


def fused_image_stats(path: str | os.PathLike) -> dict[str, float | int | bool]:
    """``{"min", "max", "std", "constant"}`` of a fused 8-bit PNG (std: population, in gray levels), of its
    luminance for a colour PNG (PIL "L" = the fused Y of a colour fusion, :mod:`datamodules.color`)."""
    from datamodules.io import read_image

    image = read_image(path).astype(np.float64)  # gray: PIL "L" of a colour PNG
    std = float(image.std())
    return {"min": int(image.min()), "max": int(image.max()), "std": std, "constant": is_constant(std)}


def describe(method: str, seed: int, dataset: str, stats: Mapping[str, Mapping]) -> str | None:
    """The runner's warning line for one unit's ``{pair_id: stats}``, or ``None`` when no image is flagged."""
    flagged = [pair for pair, s in stats.items() if s["constant"]]
    if not flagged:
        return None
    examples = ", ".join(f"{pair} (levels {stats[pair]['min']}-{stats[pair]['max']}, std {stats[pair]['std']:.2f})"
                         for pair in flagged[:3])
    return (f"warning: {method}/seed{seed}/{dataset}: {len(flagged)} of {len(stats)} fused image(s) are constant "
            f"(8-bit std < {CONSTANT_STD_LEVELS:g} gray level): {examples}{' ...' if len(flagged) > 3 else ''}; "
            "their metric values measure no fusion")


def stats_rows(markers: Iterable[Mapping]) -> pd.DataFrame:
    """``fused_stats.csv`` rows from done markers (a marker written before the stats were recorded adds none)."""
    rows = [(m["method"], int(m["seed"]), m["dataset"], str(pair), s["min"], s["max"], s["std"], bool(s["constant"]))
            for m in markers for pair, s in (m.get("fused_stats") or {}).items()]
    return pd.DataFrame(rows, columns=STATS_COLUMNS)


def read_fused_stats(run_dirs: str | os.PathLike | Sequence[str | os.PathLike]) -> pd.DataFrame:
    """The ``fused_stats.csv`` rows of one or several run dirs (none for a run dir without the file)."""
    if isinstance(run_dirs, (str, os.PathLike)):
        run_dirs = [run_dirs]
    frames = [pd.read_csv(Path(r) / STATS_FILE, dtype={"image": str, "method": str, "dataset": str})
              for r in run_dirs if (Path(r) / STATS_FILE).is_file()]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=STATS_COLUMNS)
    stats = pd.concat(frames, ignore_index=True)
    return stats.drop_duplicates(["method", "seed", "dataset", "image"]).reset_index(drop=True)


def constant_counts(stats: pd.DataFrame | None) -> dict[tuple[str, str], int]:
    """``{(method, dataset): number of flagged (seed, image)}`` for the flagged ones."""
    if stats is None or stats.empty:
        return {}
    flagged = stats[stats["constant"].astype(str).str.lower().isin(["true", "1"])]
    return {key: int(n) for key, n in flagged.groupby(["method", "dataset"]).size().items()}
