"""Start-up time of the commands that must answer at once, against the interpreter and torch's import.

Each command runs in a fresh process (``python -m benchmarks.cli ...``), best of
``--repeat``; wall time and the process's CPU time (user + system, from
``getrusage`` of the child) are printed beside the same numbers for the peers:
an empty interpreter (``python -c pass``, the floor) and ``import torch`` /
``import lightning`` (what a command pays when it loads them). A second run of
each command with ``-X importtime`` lists which heavy packages it imported. The load
average is printed first: on a shared machine the wall times measure the other jobs too.

  python benchmarks/speed/startup.py
  python benchmarks/speed/startup.py --repeat 10 --data-root ../shared/data

``leaderboard`` needs a run dir: a tiny one (``average`` and ``max`` on one
embedded sample pair, EN only) is made first in a temporary folder, unless
``--run-dir`` names one.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("torch", "lightning", "torchmetrics", "wandb", "matplotlib", "pandas", "scipy", "skimage")


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall s, child CPU s, return code) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def _imported(command: list[str], env: dict[str, str]) -> list[str]:
    """The heavy top-level packages ``command`` imports (``-X importtime``)."""
    done = subprocess.run([command[0], "-X", "importtime", *command[1:]], env=env, capture_output=True, text=True)
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return [name for name in HEAVY if name in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command; the best is shown (default: 5)")
    parser.add_argument("--data-root", default=None, help="data root for `data verify` (default: $IVIF_BENCH_DATA)")
    parser.add_argument("--run-dir", default=None, help="run dir for `leaderboard` (default: a tiny one made here)")
    args = parser.parse_args(argv)
    env = dict(os.environ, OMP_NUM_THREADS="1", WANDB_MODE="disabled")
    python = sys.executable
    cli = [python, "-m", "benchmarks.cli"]
    data_root = ["--data-root", args.data_root] if args.data_root else []
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = args.run_dir
        if run_dir is None:
            run_dir = str(Path(scratch) / "run")
            subprocess.run([*cli, "run", "--methods", "average,max", "--datasets", "sample_tno", "--limit-pairs", "1",
                            "--metrics", "EN", "--profile", "smoke", "--wandb", "disabled", "--no-plots",
                            "--no-progress", "--out", run_dir], env=env, check=True, stdout=subprocess.DEVNULL)
        cases = [
            ("python -c pass (floor)", [python, "-c", "pass"]),
            ("python -c 'import torch'", [python, "-c", "import torch"]),
            ("python -c 'import lightning'", [python, "-c", "import lightning"]),
            ("ivif-bench --help", [*cli, "--help"]),
            ("ivif-bench evaluate --help", [*cli, "evaluate", "--help"]),
            ("ivif-bench run --help", [*cli, "run", "--help"]),
            ("ivif-bench data list", [*cli, "data", "list"]),
            ("ivif-bench data verify tno", [*cli, "data", "verify", "tno", *data_root]),
            ("ivif-bench leaderboard RUN", [*cli, "leaderboard", run_dir, "--out", str(Path(scratch) / "board")]),
        ]
        load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
        print(f"best of {args.repeat} runs, fresh process each, OMP_NUM_THREADS=1; {python}; load average {load}")
        print(f"{'command':<32} {'wall s':>7} {'CPU s':>7}  heavy imports")
        for label, command in cases:
            runs = [_timed(command, env) for _ in range(args.repeat)]
            codes = sorted({code for _, _, code in runs})
            wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
            heavy = ", ".join(_imported(command, env)) or "none"
            note = "" if codes == [0] else f"  (exit {','.join(map(str, codes))})"
            print(f"{label:<32} {wall:7.2f} {cpu:7.2f}  {heavy}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
