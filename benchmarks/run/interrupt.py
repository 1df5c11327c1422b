"""Ctrl-C during a run: stop cleanly, keep what is done, and say the command that resumes.

:func:`watch_interrupt` wraps a run: a SIGINT raises ``KeyboardInterrupt``
as usual (Lightning turns one inside ``fit`` / ``test`` into a graceful
shutdown that saves ``interrupted.ckpt`` and then exits), and whatever way the
run unwinds, it leaves as :class:`RunInterrupted`. Done units keep their
markers, an unfinished unit has none and is redone, a training resumes from
``interrupted.ckpt`` / ``last.ckpt``: the same command resumes
(:func:`resume_command`).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Iterator, Sequence

__all__ = ["RunInterrupted", "resume_command", "watch_interrupt"]


class RunInterrupted(Exception):
    """The run was stopped by SIGINT (Ctrl-C); its run dir is consistent and resumable."""


@contextlib.contextmanager
def watch_interrupt() -> Iterator[None]:
    """Turn a SIGINT received inside the block into :class:`RunInterrupted` (main thread only; elsewhere a no-op).

    Lightning answers a ``KeyboardInterrupt`` inside ``fit`` with ``exit(1)``
    after saving ``interrupted.ckpt`` and ignores further SIGINTs while it shuts
    down; the SIGINT handler in force before the block is restored after it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    seen: list[int] = []

    def on_sigint(signum, frame):
        seen.append(signum)
        signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    except (KeyboardInterrupt, SystemExit) as stop:
        if isinstance(stop, KeyboardInterrupt) or seen:
            raise RunInterrupted("Ctrl-C") from None
        raise
    finally:
        signal.signal(signal.SIGINT, previous)


def _program() -> list[str]:
    """How this process was started: the ``ivif-bench`` script, or ``python -m benchmarks.cli``."""
    first = sys.argv[0] if sys.argv else ""
    if Path(first).name == "ivif-bench":
        return [first]
    if Path(first).name == "cli.py" and Path(first).parent.name == "benchmarks":
        return [sys.executable, "-m", "benchmarks.cli"]
    return ["ivif-bench"]


def resume_command(argv: Sequence[str], out: str | os.PathLike) -> str:
    """The shell command that resumes a run started with ``argv`` (the arguments after ``ivif-bench``).

    It is the same command, run from the same folder, with ``--out`` made
    explicit (a default run dir depends on the data found) and
    ``IVIF_BENCH_DATA`` as it was (it decides the data when no ``--data-root`` is given).
    """
    argv = list(argv)
    if not any(a == "--out" or a.startswith("--out=") for a in argv):
        argv += ["--out", str(Path(out).resolve())]
    environment = ""
    if os.environ.get("IVIF_BENCH_DATA") and not any(a == "--data-root" or a.startswith("--data-root=") for a in argv):
        environment = f"IVIF_BENCH_DATA={shlex.quote(os.environ['IVIF_BENCH_DATA'])} "
    return f"cd {shlex.quote(os.getcwd())} && {environment}{shlex.join([*_program(), *argv])}"
