"""W&B tracking, offline: one run per (method, seed) in the benchmark's group, holding what the issue lists."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from benchmarks.cli import main as cli
from benchmarks.tracking import read_offline_run, resolve_mode
from datamodules.datasets import load_pairs


def test_resolve_mode(monkeypatch, tmp_path):
    for mode in ("online", "offline", "disabled"):
        assert resolve_mode(mode) == mode
    with pytest.raises(ValueError, match="--wandb must be one of"):
        resolve_mode("sometimes")
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert resolve_mode("auto") == "offline"
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))  # no credentials anywhere: offline
    assert resolve_mode("auto") == "offline"
    (tmp_path / "netrc").write_text("machine api.wandb.ai login user password 0123456789\n")
    (tmp_path / "netrc").chmod(0o600)
    assert resolve_mode("auto") == "online"


def test_offline_runs_hold_the_logged_keys(tmp_path, data_root):
    out = tmp_path / "bench"
    assert cli(["run", "--methods", "didfuse", "--datasets", "sample_tno", "--profile", "smoke", "--limit-pairs", "1",
                "--metrics", "EN,MSE", "--max-steps", "2", "--data-root", str(data_root), "--out", str(out),
                "--name", "tracking-test", "--wandb", "offline", "--no-progress"]) == 0
    runs = {run["name"]: run for run in map(read_offline_run, sorted((out / "wandb").glob("offline-run-*")))}
    assert set(runs) == {"average-seed0", "max-seed0", "didfuse-seed0", "tracking-test-leaderboard"}
    assert {run["group"] for run in runs.values()} == {"tracking-test"}
    assert all(run["finished"] for run in runs.values())

    board = pd.read_csv(out / "leaderboard.csv").set_index(["method", "metric"])
    for method in ("average", "max", "didfuse"):
        run = runs[f"{method}-seed0"]
        assert run["config"]["method"] == method and run["config"]["seed"] == 0
        image = f"fused/sample_tno/{load_pairs('sample_tno')[0].pair_id}/_type"
        assert {"test/sample_tno/EN", "test/sample_tno/MSE", image} <= run["history_keys"]
        assert run["summary"]["test/sample_tno/EN"] == pytest.approx(board.loc[(method, "EN"), "mean"])
    didfuse = runs["didfuse-seed0"]
    assert didfuse["job_type"] == "train"
    assert didfuse["config"]["config"]["model"]["class_path"] == "lightning_modules.didfuse.DIDFuse"  # resolved config
    assert didfuse["config"]["fusion_strategy"] == "sum"  # the model's hyper-parameters, by WandbLogger
    assert "train/loss" in didfuse["history_keys"] and "trainer/global_step" in didfuse["history_keys"]

    leaderboard = runs["tracking-test-leaderboard"]
    assert leaderboard["job_type"] == "leaderboard"
    assert {"leaderboard/_type", "plots/bars_sample_tno/_type", "plots/qualitative/_type"} <= leaderboard["history_keys"]
    table = next((out / "wandb").glob("offline-run-*/files/media/table/leaderboard_*.table.json"))
    content = json.loads(table.read_text())
    assert content["columns"][:3] == ["method", "dataset", "metric"] and len(content["data"]) == 3 * 2
