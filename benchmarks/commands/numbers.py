"""Numeric command-line options, checked when the command line is parsed (before anything is read or created).

Each function is an ``argparse`` ``type=``: it returns the value or raises
``argparse.ArgumentTypeError``, which the CLI prints as one line
``ivif-bench CMD: error: argument --max-steps: ...`` with exit code 2
(:class:`benchmarks.cli.OneLineParser`). Imports nothing heavy.

Example:
    >>> positive_int("3")
    3
    >>> seed_value("-1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a seed, an integer 0..4294967295; got '-1'
"""

from __future__ import annotations

import argparse
import math

__all__ = ["MAX_SEED", "check_seed", "devices", "non_negative_float", "non_negative_int", "positive_int", "seed_value"]

#: the largest seed numpy (hence Lightning's ``seed_everything``) accepts; the smallest is 0
MAX_SEED = 2**32 - 1


def _integer(text: str, what: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}") from None


def positive_int(text: str) -> int:
    """An integer >= 1 (steps, pairs, runs, CPUs, nodes, a checkpoint interval)."""
    value = _integer(text, "an integer >= 1")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1; got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (e.g. data-loader workers: 0 loads in the main process)."""
    value = _integer(text, "an integer >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0; got {text!r}")
    return value


def check_seed(value: int, text: object = None) -> int:
    """``value`` if it is a seed numpy accepts (0 .. :data:`MAX_SEED`), else ``ArgumentTypeError``."""
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be a seed, an integer 0..{MAX_SEED}; got {text if text is not None else value!r}")
    return value


def seed_value(text: str) -> int:
    """A seed: an integer 0 .. 2**32 - 1."""
    return check_seed(_integer(text, f"a seed, an integer 0..{MAX_SEED}"), text)


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (e.g. GPUs per run: 0.25)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number >= 0; got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0; got {text!r}")
    return value


def devices(text: str) -> int | str:
    """Lightning's ``devices``: a count >= 1, ``-1`` or ``auto`` (all), or device indices ``0,1``."""
    text = str(text).strip()
    if text in ("auto", "-1"):
        return text if text == "auto" else -1
    if text.isdigit():
        if int(text) < 1:
            raise argparse.ArgumentTypeError(f"must be a number of devices >= 1, -1 or 'auto', or indices like "
                                             f"'0,1'; got {text!r}")
        return int(text)
    indices = [t.strip() for t in text.strip("[]").split(",")]
    if not indices or not all(t.isdigit() for t in indices):
        raise argparse.ArgumentTypeError(f"must be a number of devices >= 1, -1 or 'auto', or indices like '0,1'; "
                                         f"got {text!r}")
    return text
