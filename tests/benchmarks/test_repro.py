"""The reproducibility study (ivif-bench repro / repro-merge) on real images.

One 3-run DIDFuse study (smoke profile, 1 training step, 1 thread per run) is
run three ways: serially, as two shards (one killed after its first seed and
started again) merged, and as Ray tasks on a local 2-CPU Ray instance; all
three must give bitwise the same numbers and report. The test sets are 64 x 80
centre crops of real TNO and NIR pairs, written once per module.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from benchmarks import cli
from benchmarks.study import (StudyError, StudyOptions, merge_studies, parse_shard, plan_study, run_study,
                              shard_seeds, study_seeds)
from datamodules.datasets import load_pairs, read_pair
from datamodules.io import save_png, to_tensor

REPO_ROOT = Path(__file__).resolve().parents[2]
METRICS = ["EN", "SD", "SF", "AG"]  # cheap ones; the Figure 5 default is checked by plan_study alone
RUNS = 3


@pytest.fixture(scope="module")
def tiny_sets(tmp_path_factory, data_root) -> list[str]:
    """Two folder test sets: 64 x 80 centre crops of TNO pairs 1-2 and NIR pair 1 (real pixels)."""
    root = tmp_path_factory.mktemp("tiny_sets")
    folders = []
    for name, ids in (("tno_crop", "1-2"), ("nir_crop", "1")):
        for pair in load_pairs(name.split("_")[0], data_root, ids):
            ir, vis = read_pair(pair)
            top, left = (ir.shape[0] - 64) // 2, (ir.shape[1] - 80) // 2
            for role, image in (("ir", ir), ("vis", vis)):
                save_png(root / name / role / f"{pair.pair_id}.png", to_tensor(image[top:top + 64, left:left + 80])[0])
        folders.append(str(root / name))
    return folders


def _options(tiny_sets, data_root, out, **extra) -> StudyOptions:
    settings = dict(method="didfuse", runs=RUNS, seed0=0, profile="smoke", datasets=tiny_sets, out=out,
                    data_root=data_root, metrics=METRICS, max_steps=1, cpus_per_run=1, wandb="disabled", progress=False)
    return StudyOptions(**{**settings, **extra})


@pytest.fixture(scope="module")
def competitors(tiny_sets, data_root, tmp_path_factory) -> Path:
    """A run dir of `ivif-bench run` with the reference rules on the same test sets."""
    out = tmp_path_factory.mktemp("competitors")
    code = cli.main(["run", "--methods", "average,max", "--datasets", ",".join(tiny_sets), "--data-root", str(data_root),
                     "--metrics", ",".join(METRICS), "--out", str(out), "--wandb", "disabled", "--no-plots",
                     "--no-progress", "--profile", "smoke"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def serial(tiny_sets, data_root, competitors, tmp_path_factory) -> Path:
    """The 3-run study, serially, with W&B offline and the competitors."""
    out = tmp_path_factory.mktemp("serial")
    report = run_study(plan_study(_options(tiny_sets, data_root, out, competitors=competitors, wandb="offline")))
    assert report is not None
    return out


def _numbers(study: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    results = pd.read_csv(study / "results.csv", dtype={"image": str})
    results = results.sort_values(["seed", "dataset", "image", "metric"]).reset_index(drop=True)
    report = pd.read_csv(study / "repro_report.csv")
    return results, report


def _weights(study: Path, seed: int) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(study / "checkpoints" / "didfuse" / f"seed{seed}" / "final.ckpt", map_location="cpu",
                            weights_only=False)
    return checkpoint["state_dict"]


# ------------------------------------------------------------------ pure parts
def test_seeds_and_shards():
    seeds = study_seeds(25, seed0=100)
    assert seeds == list(range(100, 125))
    shards = [shard_seeds(seeds, i, 4) for i in range(4)]
    assert shards[1] == [101, 105, 109, 113, 117, 121]
    assert sorted(s for shard in shards for s in shard) == seeds  # every seed in exactly one shard
    assert parse_shard("3/4") == (3, 4) and parse_shard(None) == (0, 1)
    for bad in ("4/4", "-1/2", "a/2", "2", "1/0"):
        with pytest.raises(StudyError, match="--shard"):
            parse_shard(bad)
    with pytest.raises(StudyError, match="--runs"):
        study_seeds(0)


def test_bad_studies_are_refused_with_a_clear_message(tiny_sets, data_root, tmp_path, capsys):
    with pytest.raises(StudyError, match="needs no training"):
        plan_study(StudyOptions(method="max", datasets=tiny_sets, data_root=data_root, out=tmp_path / "a"))
    with pytest.raises(StudyError, match="selects none of the 3 seed"):
        plan_study(_options(tiny_sets, data_root, tmp_path / "b", shard=(4, 5)))
    code = cli.main(["repro", "--runs", "3", "--shard", "2/2", "--datasets", tiny_sets[0], "--data-root", str(data_root),
                     "--out", str(tmp_path / "c")])
    assert code == 2
    assert "error: --shard 2/2: need n >= 1 and 0 <= i < n" in capsys.readouterr().err
    # the default metrics are Figure 5's, in its order
    study = plan_study(StudyOptions(datasets=tiny_sets, data_root=data_root, out=tmp_path / "d", runs=2))
    assert study.plan.metrics == [m for m in ("EN", "MI", "SD", "SF", "VIF", "AG") if m in study.plan.metrics]
    assert {"EN", "MI", "SD", "SF", "AG"} <= set(study.plan.metrics)
    assert study.options.name == "repro-didfuse-smoke" and study.shard_seeds == [0, 1]


# ------------------------------------------------------------------ the study
def test_serial_study_report_figure_and_wandb(serial, competitors):
    from benchmarks.tracking import read_offline_run

    results, report = _numbers(serial)
    key = ["seed", "dataset", "image", "metric"]
    assert not results.duplicated(key).any()
    assert sorted(results["seed"].unique()) == [0, 1, 2]
    assert len(results) == RUNS * 3 * len(METRICS)  # 3 seeds x (2 + 1 images) x metrics
    # the report's statistics, recomputed by hand from the per-image rows
    rival = pd.read_csv(competitors / "results.csv", dtype={"image": str})
    for row in report.itertuples():
        block = results[(results["dataset"] == row.dataset) & (results["metric"] == row.metric)]
        per_run = block.groupby("seed")["value"].mean().to_numpy()
        assert row.n_runs == RUNS
        assert row.mean == pytest.approx(per_run.mean(), rel=1e-12)
        assert row.std == pytest.approx(per_run.std(ddof=1), rel=1e-12)
        assert (row.min, row.max) == (pytest.approx(per_run.min()), pytest.approx(per_run.max()))
        means = rival[(rival["dataset"] == row.dataset) & (rival["metric"] == row.metric)].groupby("method")["value"].mean()
        ordered = means.sort_values(ascending=False)  # all four metrics: higher is better
        assert (row.best_competitor, row.second_competitor) == (ordered.index[0], ordered.index[1])
        assert row.best_value == pytest.approx(ordered.iloc[0])
        places = [1 + int((means > value).sum()) for value in per_run]
        assert (row.runs_first, row.runs_second) == (places.count(1), places.count(2))
    markdown = (serial / "repro_report.md").read_text(encoding="utf-8")
    assert "## tno_crop (3 runs)" in markdown and "| EN ↑ |" in markdown and "max " in markdown
    for kind in ("png", "pdf"):
        figure = serial / "plots" / f"repro_figure5.{kind}"
        assert figure.is_file() and figure.stat().st_size > 5000
    assert (serial / "plots" / "repro_figure5.png").stat().st_size < 300_000
    # W&B: the three trainings and the report in one group; the report run holds the table and the figure
    runs = [read_offline_run(p) for p in sorted((serial / "wandb").glob("offline-run-*"))]
    assert {r["group"] for r in runs} == {"repro-didfuse-smoke"}
    assert sorted(r["name"] for r in runs) == ["didfuse-seed0", "didfuse-seed1", "didfuse-seed2",
                                               "repro-didfuse-smoke-report"]
    report_run = next(r for r in runs if r["job_type"] == "repro-report")
    assert {"repro/report/_type", "repro/runs/_type", "repro/figure5/_type"} <= report_run["history_keys"]
    assert all(r["finished"] for r in runs)


def test_shards_killed_resumed_and_merged_give_the_same_report(serial, tiny_sets, data_root, competitors, tmp_path,
                                                               capsys):
    shard0, shard1, merged = tmp_path / "shard0", tmp_path / "shard1", tmp_path / "merged"
    # shard 0/2 (seeds 0 and 2) in its own process, killed as soon as seed 0 is done
    command = [sys.executable, "-m", "benchmarks.cli", "repro", "--runs", str(RUNS), "--shard", "0/2",
               "--datasets", ",".join(tiny_sets), "--data-root", str(data_root), "--metrics", ",".join(METRICS),
               "--max-steps", "1", "--cpus-per-run", "1", "--wandb", "disabled", "--no-progress", "--out", str(shard0)]
    last_marker = shard0 / "units" / "didfuse" / "seed0" / "nir_crop.done.json"
    log = tmp_path / "shard0.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not last_marker.is_file():
            assert process.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "shard 0 did not finish seed 0 in 300 s"
            time.sleep(0.1)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert not (shard0 / "units" / "didfuse" / "seed2" / "nir_crop.done.json").is_file()  # killed mid-study
    with pytest.raises(StudyError, match=r"missing seed\(s\) of the 3-run study: 1 \(no shard dir given holds it\), 2"):
        merge_studies([shard0], tmp_path / "early")

    # started again: seed 0 is skipped, seed 2 runs; then shard 1/2 (seed 1)
    run_study(plan_study(_options(tiny_sets, data_root, shard0, shard=(0, 2))))
    run_study(plan_study(_options(tiny_sets, data_root, shard1, shard=(1, 2))))
    record = json.loads((shard0 / "study.json").read_text(encoding="utf-8"))
    assert record["invocations"][-1]["seeds_run"] == [2] and record["invocations"][0]["status"] == "running"  # killed
    assert cli.main(["repro-merge", str(shard0), str(shard1), "--out", str(merged), "--competitors", str(competitors),
                     "--wandb", "disabled"]) == 0

    # each seed exactly once, and bitwise the numbers and report of the serial study
    results, report = _numbers(merged)
    serial_results, serial_report = _numbers(serial)
    pd.testing.assert_frame_equal(results, serial_results, check_exact=True)
    pd.testing.assert_frame_equal(report, serial_report, check_exact=True)
    assert (merged / "repro_runs.csv").read_bytes() == (serial / "repro_runs.csv").read_bytes()
    # same seed: bitwise the same weights; another seed: other weights
    for seed, shard in ((0, shard0), (1, shard1), (2, shard0)):
        first, again = _weights(serial, seed), _weights(shard, seed)
        assert all(torch.equal(first[k], again[k]) for k in first)
    other = _weights(serial, 1)
    assert any(not torch.equal(value, other[k]) for k, value in _weights(serial, 0).items() if value.is_floating_point())

    # duplicated seeds are refused, naming the seeds and the dirs
    with pytest.raises(StudyError, match=r"seed 0 in .*shard0.*serial") as error:
        merge_studies([shard0, serial], tmp_path / "twice")
    assert "seed 2 in" in str(error.value)
    assert cli.main(["repro-merge", str(shard0), str(shard1)]) == 2
    assert "several shard dirs: name the merged study dir with --out" in capsys.readouterr().err


def test_ray_executor_gives_the_same_report(serial, tiny_sets, data_root, competitors, tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'ivif-bench[cluster]'")
    assert not ray.is_initialized()
    out = tmp_path / "ray"
    study = plan_study(_options(tiny_sets, data_root, out, executor="ray", ray_num_cpus=2, competitors=competitors))
    assert study.options.cpus_per_run == 1
    run_study(study)
    assert not ray.is_initialized()  # the local instance is shut down
    results, report = _numbers(out)
    serial_results, serial_report = _numbers(serial)
    pd.testing.assert_frame_equal(results, serial_results, check_exact=True)
    pd.testing.assert_frame_equal(report, serial_report, check_exact=True)
    assert np.array_equal(pd.read_csv(out / "repro_runs.csv")["value"], pd.read_csv(serial / "repro_runs.csv")["value"])
