"""The CLI's start-up and errors: light commands load no torch; user errors are one line, bugs keep their traceback;
no stale environment variable turns a run into a DDP training rank; a checkpoint is deleted only when cut short."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from benchmarks.cli import main as cli
from benchmarks.run.train import TRAIN_ONLY_ENV, complete_checkpoint
from datamodules.errors import UserError

REPO = Path(__file__).resolve().parents[2]
LIGHT = ("--help", "evaluate --help", "run --help", "data list", "data verify tno --data-root {data_root}",
         "leaderboard {run} --out {out}")


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    assert cli(["run", "--methods", "average,max", "--datasets", "sample_tno", "--limit-pairs", "1", "--metrics", "EN",
                "--profile", "smoke", "--out", str(out), "--wandb", "disabled", "--no-plots", "--no-progress"]) == 0
    return out


HEAVY = ("torch", "lightning", "torchmetrics", "wandb")


def _modules_after(args: list[str], extra: str = "", modules: tuple[str, ...] = HEAVY) -> dict[str, bool]:
    """Run ``ivif-bench ARGS`` in a fresh interpreter; which of ``modules`` it had imported at the end."""
    code = ("import contextlib, io, json, sys\n"
            "from benchmarks.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n"
            f"        main({args!r})\n"
            "    except SystemExit:\n"
            "        pass\n"
            f"print(json.dumps({{m: m in sys.modules for m in {modules!r}}}))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("command", LIGHT)
def test_light_commands_import_no_torch(command, data_root, small_run, tmp_path):
    loaded = _modules_after(command.format(data_root=data_root, run=small_run, out=tmp_path).split())
    assert loaded == {"torch": False, "lightning": False, "torchmetrics": False, "wandb": False}
    if command.startswith("leaderboard"):  # ranked from the facts recorded in the run dir, not the registry
        assert "| EN ↑ |" in (tmp_path / "leaderboard.md").read_text(encoding="utf-8")


def test_evaluate_imports_no_torchmetrics_lightning_or_matplotlib(data_root, tmp_path):
    """``ivif-bench evaluate`` computes with the functional twins (:mod:`metrics.engine`): the registry names the
    ``FusionMetric`` classes without importing them, so torchmetrics (and the matplotlib it pulls in) and
    lightning stay unloaded: seconds of start-up (issue 17)."""
    out = tmp_path / "tno.csv"
    loaded = _modules_after(["evaluate", str(data_root / "IVIF-DIDFuse" / "Test_result" / "TNO_IJCAI"), "--dataset",
                             "tno", "--pattern", "F{id}", "--data-root", str(data_root), "--convention", "cddfuse",
                             "--ids", "1", "--no-progress", "--out", str(out)],
                            modules=("torch", "torchmetrics", "lightning", "pytorch_lightning", "matplotlib"))
    assert loaded == {"torch": True, "torchmetrics": False, "lightning": False, "pytorch_lightning": False,
                      "matplotlib": False}
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1 + 12  # the 12 cddfuse metrics of F1 were computed


def test_a_user_error_is_one_line_and_a_bug_keeps_its_traceback(monkeypatch, capsys):
    from benchmarks.commands import leaderboard

    def user_fault(args):
        raise UserError("RUN/results.csv: bad column; the fix")

    monkeypatch.setattr(leaderboard, "main", user_fault)
    assert cli(["leaderboard", "RUN"]) == 2
    assert capsys.readouterr().err == "ivif-bench leaderboard: error: RUN/results.csv: bad column; the fix\n"

    def bug(args):
        return {}["a key the code forgot"]

    monkeypatch.setattr(leaderboard, "main", bug)
    with pytest.raises(KeyError, match="a key the code forgot"):  # not turned into a one-line message
        cli(["leaderboard", "RUN"])


@pytest.mark.parametrize("value, message", [
    (json.dumps({"method": "average", "seed": 0, "launcher_pid": 1, "resume": None}), "which did not start this one"),
    ("1", "not what an ivif-bench rank 0 sets"),
])
def test_a_stale_train_only_variable_stops_the_run(tmp_path, value, message):
    """Exported by mistake, the rank hand-off variable must not silently make a run train only and exit 0."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "benchmarks.cli", "run", "--methods", "average", "--datasets", "sample_tno",
               "--limit-pairs", "1", "--metrics", "EN", "--out", str(out), "--wandb", "disabled", "--no-plots",
               "--no-progress", "--profile", "smoke"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO), TRAIN_ONLY_ENV: value})
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert not (out / "results.csv").exists()


def test_only_a_checkpoint_cut_short_counts_as_incomplete(tmp_path):
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {"w": torch.arange(4096.0)}, "global_step": 3}, path)
    assert complete_checkpoint(path)
    data = path.read_bytes()
    for cut in (0, 10, len(data) // 2, len(data) - 10):  # killed while writing, at any point
        path.write_bytes(data[:cut])
        assert not complete_checkpoint(path), cut
    with zipfile.ZipFile(tmp_path / "other.ckpt", "w") as archive:  # complete, but not a checkpoint: judged later
        archive.writestr("archive/data.pkl", b"not a pickle")
    assert complete_checkpoint(tmp_path / "other.ckpt")
    path.write_bytes(data)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):  # root reads anything: nothing to check here
            return
        with pytest.raises(PermissionError):  # unreadable for another reason: an error, the file is kept
            complete_checkpoint(path)
        assert path.stat().st_size == len(data)
    finally:
        path.chmod(0o600)
