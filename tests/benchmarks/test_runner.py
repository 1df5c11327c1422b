"""The benchmark runner on real pairs: layout, values from the 8-bit PNGs, provenance, resumability, bad arguments.

Most tests run the reference rules (no training) on the embedded sample pairs
with cheap metrics; one test trains DIDFuse for 2 steps under its smoke config.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from benchmarks import profiles
from benchmarks.cli import main as cli
from benchmarks.report.results import RunLayout
from benchmarks.run.plan import FULL_DATASETS, SAMPLE_DATASETS, choose_datasets
from datamodules.datasets import load_pairs, read_pair
from datamodules.io import read_image, to_tensor, to_uint8
from metrics import get_metric_info

REPO = Path(__file__).resolve().parents[2]
METRICS = "EN,SD,SF"
KEY = ["method", "seed", "dataset", "image", "metric"]


def run_args(out: Path, *extra: str, methods: str = "average,max", datasets: str = "sample") -> list[str]:
    return ["run", "--methods", methods, "--datasets", datasets, "--profile", "smoke", "--limit-pairs", "1",
            "--metrics", METRICS, "--out", str(out), "--wandb", "disabled", "--no-plots", "--no-progress", *extra]


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runner") / "reference"
    assert cli(run_args(out)) == 0
    return out


def test_layout_and_exactly_one_row_per_key(reference_run):
    layout = RunLayout(reference_run)
    results = pd.read_csv(layout.results, dtype={"image": str})
    assert len(results) == 2 * 3 * 1 * 3  # methods x datasets x pairs x metrics
    assert not results.duplicated(KEY).any()
    assert set(results.dataset) == set(SAMPLE_DATASETS) and set(results.metric) == set(METRICS.split(","))
    for method in ("average", "max"):
        for dataset in SAMPLE_DATASETS:
            pair_id = load_pairs(dataset)[0].pair_id
            assert (reference_run / "fused" / method / dataset / f"{pair_id}.png").is_file()
            marker = json.loads((reference_run / "units" / method / "seed0" / f"{dataset}.done.json").read_text())
            assert marker["signature"]["pair_ids"] == [pair_id] and marker["fused_dir"] == f"fused/{method}/{dataset}"
    for name in ("leaderboard.csv", "leaderboard.md", "leaderboard.tex", "provenance.json"):
        assert (reference_run / name).is_file()
    assert not list(reference_run.rglob(".*.tmp"))


def test_values_come_from_the_8bit_png(reference_run):
    pair = load_pairs("sample_tno")[0]
    ir_u8, vis_u8 = read_pair(pair)
    png = read_image(reference_run / "fused" / "max" / "sample_tno" / f"{pair.pair_id}.png", mode="gray_strict")
    np.testing.assert_array_equal(png, to_uint8(torch.maximum(to_tensor(ir_u8), to_tensor(vis_u8))))
    # the 8-bit levels / 255 in float64: what a metric reference reads from the files
    fused, ir, vis = (torch.from_numpy(x).double().div(255).view(1, 1, *x.shape) for x in (png, ir_u8, vis_u8))
    results = pd.read_csv(reference_run / "results.csv", dtype={"image": str})
    for metric in METRICS.split(","):
        info = get_metric_info(metric)
        expected = float(info.functional(fused, ir, vis, **info.options)[0])
        row = results[(results.method == "max") & (results.dataset == "sample_tno") & (results.metric == metric)]
        assert row.value.item() == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_provenance_records_how_the_run_was_made(reference_run):
    record = json.loads((reference_run / "provenance.json").read_text())
    assert record["status"] == "finished" and record["seeds"] == [0] and record["profile"] == "smoke"
    assert len(record["git"]["commit"]) == 40 and isinstance(record["git"]["dirty"], bool)
    for package in ("python", "torch", "lightning", "torchmetrics", "wandb", "numpy", "ivif-bench"):
        assert record["versions"][package]
    assert "cpu_count" in record["device"] and record["argv"]  # the process's command line (pytest's, here)
    assert record["options"]["methods"] == ["average", "max"] and record["options"]["metrics"] == METRICS.split(",")
    assert set(record["configs"]) == {"average/seed0", "max/seed0"}
    assert record["configs"]["max/seed0"]["model"]["class_path"] == "lightning_modules.baselines.MaxFusion"
    assert record["pairs"] == {name: [load_pairs(name)[0].pair_id] for name in SAMPLE_DATASETS}


def test_git_state_is_the_one_the_process_started_with(tmp_path):
    """A commit made while a long run goes on must not change what the run's records say it ran."""
    from benchmarks.provenance import git_info

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "a.txt").write_text("1")
    git("add", "a.txt")
    git("commit", "-qm", "one")
    first = git_info(tmp_path)
    assert len(first["commit"]) == 40 and first["dirty"] is False
    (tmp_path / "a.txt").write_text("2")
    git("commit", "-qam", "two")
    assert git_info(tmp_path) == first


def test_rerun_skips_finished_units(reference_run, capsys):
    markers = sorted((reference_run / "units").glob("*/seed0/*.done.json"))
    before = {path: path.stat().st_mtime_ns for path in markers}
    results_before = (reference_run / "results.csv").read_text()
    capsys.readouterr()
    assert cli(run_args(reference_run)) == 0
    out = capsys.readouterr().out
    assert out.count("skip ") == 6 and "0 unit(s) run, 6 already done" in out
    assert {path: path.stat().st_mtime_ns for path in markers} == before
    assert (reference_run / "results.csv").read_text() == results_before
    history = json.loads((reference_run / "provenance.json").read_text())["history"]
    assert len(history) == 1 and history[0]["status"] == "finished"


def test_choose_datasets_full_sets_or_the_sample(data_root, tmp_path):
    names, message = choose_datasets(["auto"], data_root)
    assert names == list(FULL_DATASETS) and message.startswith("data: full test sets tno, flir, nir")
    names, message = choose_datasets(["auto"], tmp_path)
    assert names == list(SAMPLE_DATASETS) and "embedded sample" in message
    assert f"ivif-bench data download tno flir nir --data-root {tmp_path}" in message
    assert choose_datasets(["sample", "tno"], data_root)[0] == [*SAMPLE_DATASETS, "tno"]


@pytest.mark.parametrize("extra, message", [
    (["--methods", "nosuchmethod"], "unknown method(s) nosuchmethod"),
    (["--datasets", "nosuchset"], "unknown dataset 'nosuchset'"),
    (["--ckpt", "didfuse=/no/such/file.ckpt", "--methods", "didfuse"], "no such file"),
    (["--ckpt", "max=/no/such/file.ckpt"], "reference rule without weights"),
    (["--ckpt", "didfuse"], "expected METHOD=PATH"),
    (["--metrics", "EN,NOPE"], "metric 'NOPE' is not in convention 'default'"),
    (["--seed", "x"], "--seed"),
    (["--datasets", "tno", "--data-root", "/no/such/root"], "ivif-bench data download tno"),
])
def test_bad_arguments_stop_before_any_work(tmp_path, capsys, extra, message):
    out = tmp_path / "run"
    args = run_args(out)
    for flag, value in zip(extra[::2], extra[1::2]):  # later flags override run_args' defaults
        args += [flag, value]
    assert cli(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_a_profile_without_the_methods_config_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(profiles, "CONFIG_DIR", tmp_path / "configs")
    assert cli(run_args(tmp_path / "run", methods="didfuse")) == 2
    assert "method 'didfuse' has no 'smoke' config" in capsys.readouterr().err
    assert cli(run_args(tmp_path / "run", methods="all")) == 2  # 'all' names what it would skip, before any work
    err = capsys.readouterr().err
    assert "requested method(s) cannot run: " in err and "didfuse" in err and "--allow-skip" in err and "ifcnn" not in err
    assert not (tmp_path / "run").exists()
    assert cli(run_args(tmp_path / "run", "--allow-skip", methods="all")) == 0  # allowed: skipped with a note
    assert "skip method didfuse: no 'smoke' config" in capsys.readouterr().out


def test_killed_run_resumes_without_redoing_units(tmp_path, data_root):
    """Kill a real run after its first finished unit; the rerun skips it and ends like an uninterrupted run."""
    killed, fresh = tmp_path / "killed", tmp_path / "fresh"
    args = run_args(killed, "--ids", "8", "--data-root", str(data_root), datasets="tno,flir,nir")
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.cli", *args], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not list(killed.glob("units/*/seed0/*.done.json")):
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the run made no unit in 240 s"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    first = {p: p.stat().st_mtime_ns for p in killed.glob("units/*/seed0/*.done.json")}
    assert 1 <= len(first) < 6, "the kill must land in the middle of the run"

    assert cli(args) == 0  # same arguments: resumes
    assert {p: p.stat().st_mtime_ns for p in first} == first  # finished units untouched
    assert len(list(killed.glob("units/*/seed0/*.done.json"))) == 6
    results = pd.read_csv(killed / "results.csv", dtype={"image": str})
    assert len(results) == 2 * 3 * 1 * 3 and not results.duplicated(KEY).any()

    fresh_args = list(args)
    fresh_args[fresh_args.index("--out") + 1] = str(fresh)
    assert cli(fresh_args) == 0
    assert (killed / "leaderboard.csv").read_text() == (fresh / "leaderboard.csv").read_text()


def test_didfuse_smoke_train_resume_and_checkpoint_reuse(tmp_path, data_root, capsys):
    """Train DIDFuse 2 steps under its smoke config; resume from last.ckpt; reuse and misuse --ckpt."""
    if profiles.config_path("didfuse", "smoke") is None:
        pytest.fail("benchmarks/configs/didfuse/smoke.yaml is missing")
    out = tmp_path / "didfuse"
    args = run_args(out, "--data-root", str(data_root), "--max-steps", "2", "--checkpoint-every", "1",
                    methods="didfuse", datasets="sample_tno")
    assert cli(args) == 0
    layout = RunLayout(out)
    training = json.loads(layout.training_record("didfuse", 0).read_text())
    assert training["source"] == "trained" and training["global_step"] == 2 and training["resumed_from"] is None
    final = layout.final_checkpoint("didfuse", 0)
    assert torch.load(final, weights_only=False)["ivif_bench"]["method"] == "didfuse"
    assert layout.last_checkpoint("didfuse", 0).is_file() and layout.config_file("didfuse", 0).is_file()
    results = pd.read_csv(layout.results, dtype={"image": str})
    assert set(results.method) == {"average", "max", "didfuse"}

    # an interrupted training: last.ckpt is there, final.ckpt and the didfuse units are not
    final.unlink()
    for marker in out.glob("units/didfuse/seed0/*.done.json"):
        marker.unlink()
    capsys.readouterr()
    assert cli(args) == 0
    assert "resuming from" in capsys.readouterr().out
    training = json.loads(layout.training_record("didfuse", 0).read_text())
    assert training["resumed_from"].endswith("last.ckpt") and training["global_step"] == 2
    pd.testing.assert_frame_equal(pd.read_csv(layout.results, dtype={"image": str}), results)

    # --ckpt reuses a checkpoint without training; another method's checkpoint is refused before any work
    reuse = tmp_path / "reuse"
    assert cli(run_args(reuse, "--ckpt", f"didfuse={final}", "--data-root", str(data_root), methods="didfuse",
                        datasets="sample_tno")) == 0
    assert "user checkpoint (--ckpt)" in capsys.readouterr().out
    assert not (reuse / "checkpoints").exists()
    reused = pd.read_csv(reuse / "results.csv", dtype={"image": str})
    pd.testing.assert_frame_equal(reused.drop(columns="weights"), results.drop(columns="weights"))
    weights = reused.groupby("method")["weights"].agg(set)  # the same values, each row says where its model came from
    assert weights["didfuse"] == {f"checkpoint:{final}"} and set(results[results.method == "didfuse"].weights) == \
        {"trained:smoke:seed0"} and weights["average"] == {"none"}
    other = tmp_path / "other"
    assert cli(run_args(other, "--ckpt", f"densefuse={final}", methods="densefuse", datasets="sample_tno")) == 2
    assert "belongs to method 'didfuse'" in capsys.readouterr().err
    assert not other.exists()

    # a changed training config is refused rather than silently reusing the old weights
    changed = list(args)
    changed[changed.index("--max-steps") + 1] = "3"
    assert cli(changed) == 2
    assert "max_steps: 2 -> 3" in capsys.readouterr().err


def test_a_run_dir_in_use_is_refused(reference_run, capsys):
    import fcntl

    with open(reference_run / ".lock", "a+") as handle:  # another process writing this run dir
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert cli(run_args(reference_run)) == 2
    assert "another ivif-bench run is writing here" in capsys.readouterr().err
