"""Check before work, never lose work: damaged checkpoints and records are moved aside and recovered from;
outputs are checked writable and of the right kind before anything is computed (#16 item 2)."""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import torch

from benchmarks.cli import main as cli
from benchmarks.report.results import RunLayout
from benchmarks.run.train import checkpoint_problem
from datamodules.download import sha256_of

pytestmark = pytest.mark.usefixtures("one_thread")


def _bad_pickle_zip(good: bytes) -> bytes:
    """A complete zip archive with the checkpoint's members whose pickle is garbage: every CRC is right."""
    source, target = zipfile.ZipFile(io.BytesIO(good)), io.BytesIO()
    with zipfile.ZipFile(target, "w") as archive:
        for info in source.infolist():
            data = source.read(info)
            archive.writestr(info, b"\x80\x02garbage, not a pickle" if info.filename.endswith("data.pkl") else data)
    return target.getvalue()


DAMAGE = {
    "truncated": lambda good: good[: len(good) // 2],
    "zero bytes": lambda good: b"",
    "garbage": lambda good: os.urandom(4096),
    "bad pickle": _bad_pickle_zip,
}


def test_checkpoint_problem_names_each_kind_of_damage(tmp_path):
    path = tmp_path / "final.ckpt"
    torch.save({"state_dict": {"w": torch.arange(64.0)}, "global_step": 2}, path)
    good = path.read_bytes()
    assert checkpoint_problem(path) is None
    expected = {"truncated": "without a zip directory", "zero bytes": "empty (0 bytes)",
                "garbage": "without a zip directory", "bad pickle": "its payload does not load"}
    for kind, damage in DAMAGE.items():
        path.write_bytes(damage(good))
        assert expected[kind] in checkpoint_problem(path), kind
    torch.save({"weights": 1}, path)
    assert "no state_dict" in checkpoint_problem(path)
    assert checkpoint_problem(tmp_path / "absent.ckpt") == "no such file"


def run_args(out: Path, data_root: Path, *extra: str) -> list[str]:
    return ["run", "--methods", "didfuse", "--datasets", "sample_tno", "--profile", "smoke", "--limit-pairs", "1",
            "--metrics", "EN", "--max-steps", "2", "--checkpoint-every", "1", "--data-root", str(data_root),
            "--out", str(out), "--wandb", "disabled", "--no-plots", "--no-progress", *extra]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_root) -> Path:
    out = tmp_path_factory.mktemp("checkpoints") / "run"
    assert cli(run_args(out, data_root)) == 0
    return out


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_final_checkpoint_is_moved_aside_and_recovered(trained, data_root, tmp_path, capsys, kind):
    out = tmp_path / "run"
    shutil.copytree(trained, out)
    layout = RunLayout(out)
    final = layout.final_checkpoint("didfuse", 0)
    good, results = final.read_bytes(), pd.read_csv(layout.results, dtype={"image": str})
    final.write_bytes(DAMAGE[kind](good))
    damaged_sha = sha256_of(final)
    capsys.readouterr()
    assert cli(run_args(out, data_root)) == 0
    stdout = capsys.readouterr().out
    assert f"{final} is damaged (" in stdout and "moved aside to final.ckpt.corrupt-" in stdout
    assert "resuming from" in stdout and str(layout.last_checkpoint("didfuse", 0)) in stdout  # the last good state
    aside = list(final.parent.glob("final.ckpt.corrupt-*"))
    assert len(aside) == 1 and sha256_of(aside[0]) == damaged_sha  # kept, renamed, never deleted
    record = json.loads(layout.training_record("didfuse", 0).read_text())
    assert record["checkpoint_sha256"] == sha256_of(final) != damaged_sha and record["global_step"] == 2
    assert checkpoint_problem(final) is None
    pd.testing.assert_frame_equal(pd.read_csv(layout.results, dtype={"image": str}), results)


def test_damaged_resume_states_and_records_are_moved_aside(trained, data_root, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(trained, out)
    layout = RunLayout(out)
    final, last = layout.final_checkpoint("didfuse", 0), layout.last_checkpoint("didfuse", 0)
    results = pd.read_csv(layout.results, dtype={"image": str})
    final.unlink()
    last.write_bytes(last.read_bytes()[:1000])  # killed while writing last.ckpt
    layout.training_record("didfuse", 0).write_text('{"method": "didfuse", "checkpoint_sha')  # cut short too
    capsys.readouterr()
    assert cli(run_args(out, data_root)) == 0
    stdout = capsys.readouterr().out
    assert f"{last} is damaged" in stdout and "not resuming from it" in stdout
    assert "didfuse/seed0: training (smoke profile)\n" in stdout  # nothing good left: trained again
    assert list(last.parent.glob("last.ckpt.corrupt-*")) and list(layout.unit_dir("didfuse", 0).glob("training.json.corrupt-*"))
    record = json.loads(layout.training_record("didfuse", 0).read_text())
    assert record["source"] == "trained" and record["checkpoint_sha256"] == sha256_of(final)
    pd.testing.assert_frame_equal(pd.read_csv(layout.results, dtype={"image": str}), results)  # same seed, same run


@pytest.fixture()
def unwritable(tmp_path) -> Path:
    """A folder this process cannot write in: mode 0o555, or, as root (who ignores modes), a sysfs folder."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir(mode=0o555)
        return folder
    folder = Path("/sys/kernel")
    if not folder.is_dir() or os.access(folder, os.W_OK) and _can_create(folder):
        pytest.skip("no folder here refuses root's writes")
    return folder


def _can_create(folder: Path) -> bool:
    try:
        (folder / ".ivif-bench-probe").touch()
    except OSError:
        return False
    (folder / ".ivif-bench-probe").unlink()
    return True


@pytest.mark.parametrize("command", ["run", "fuse"])
@pytest.mark.parametrize("case", ["a file", "under a file", "not writable"])
def test_outputs_are_checked_before_any_work(tmp_path, unwritable, capsys, command, case):
    a_file = tmp_path / "results.txt"
    a_file.write_text("keep me")
    out = {"a file": a_file, "under a file": a_file / "run", "not writable": unwritable / "run"}[case]
    args = (["run", "--methods", "average", "--datasets", "sample_tno", "--limit-pairs", "1", "--metrics", "EN",
             "--profile", "smoke", "--wandb", "disabled", "--no-plots", "--no-progress"] if command == "run"
            else ["fuse", "--method", "average", "--dataset", "sample_tno"])
    assert cli([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    reason = {"a file": "is a file, not a folder", "under a file": "is a file, so no folder can be made under it",
              "not writable": "cannot write in"}[case]
    assert err.startswith(f"ivif-bench {command}: error: --out {out}: ") and reason in err and err.count("\n") == 1
    assert a_file.read_text() == "keep me" and (out == a_file or not out.exists())
