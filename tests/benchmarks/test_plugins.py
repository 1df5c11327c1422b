"""A method, a reference rule, a metric, a convention and a test set from a separate package (the README's example,
``tests/plugins/example``) work wherever a built-in does: run, leaderboard, plots, W&B, repro, fuse, train.

Each command runs in a subprocess whose ``PYTHONPATH`` holds the example's code and the ``.dist-info`` an install
would write (its ``ivif_bench.plugins`` entry point), or, for ``--plugin``, the code alone.
"""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from benchmarks.tracking import read_offline_run
from datamodules.io import read_image

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "tests" / "plugins"
INSTALLED = [str(REPO), str(PLUGIN / "example"), str(PLUGIN / "installed")]  # pip install, as Python sees it
IFCNN = "IFCNN/Code/datasets/IVDataset"


def ivif_bench(*args: str, path: list[str] = INSTALLED, expect: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "WANDB_MODE": "offline"}
    done = subprocess.run([sys.executable, "-m", "benchmarks.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == expect, (done.stdout[-3000:], done.stderr[-3000:])
    return done


@pytest.fixture(scope="module")
def plugin_run(tmp_path_factory, data_root) -> Path:
    """The issue's command: the plugin's method beside DIDFuse and the reference rules, on TNO and the plugin's set."""
    out = tmp_path_factory.mktemp("plugin") / "run"
    ivif_bench("run", "--profile", "smoke", "--methods", "mine,didfuse,average", "--datasets", "sample_tno,ifcnn_iv",
               "--limit-pairs", "1", "--metrics", "EN,SD,MAD", "--max-steps", "1", "--data-root", str(data_root),
               "--out", str(out), "--wandb", "offline", "--no-progress")
    return out


@pytest.mark.parametrize("file, fence", [("pyproject.toml", "toml"), ("ivif_bench_example/__init__.py", "python"),
                                         ("ivif_bench_example/configs/smoke.yaml", "yaml")])
def test_the_readme_shows_the_example_package_the_tests_run(file, fence):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    text = (PLUGIN / "example" / file).read_text(encoding="utf-8").rstrip()
    assert f"```{fence}\n{text}\n```" in readme, f"README: update the example's {file}"


def test_the_installed_metadata_is_the_example_pyprojects():
    project = tomllib.loads((PLUGIN / "example" / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dist = PLUGIN / "installed" / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    points = configparser.ConfigParser()
    points.read(dist / "entry_points.txt")
    assert dict(points["ivif_bench.plugins"]) == project["entry-points"]["ivif_bench.plugins"]
    assert f"Name: {project['name']}\nVersion: {project['version']}" in (dist / "METADATA").read_text()


def test_the_plugin_runs_beside_the_built_ins(plugin_run):
    results = pd.read_csv(plugin_run / "results.csv", dtype={"image": str})
    assert set(results.method) == {"average", "max", "minimum", "didfuse", "mine"}  # every reference rule, always
    assert set(results.dataset) == {"sample_tno", "ifcnn_iv"} and set(results.metric) == {"EN", "SD", "MAD"}
    config = json.loads((plugin_run / "provenance.json").read_text())
    assert config["configs"]["mine/seed0"]["model"]["init_args"]["lr"] == 1e-4  # its own smoke.yaml, interpreted
    assert config["plugins"] == [{"name": "example", "target": "ivif_bench_example",
                                  "origin": "entry point of ivif-bench-example 0.1.0"}]
    facts = {m["name"]: m for m in json.loads((plugin_run / "metrics.json").read_text())["metrics"]}
    assert facts["MAD"]["higher_is_better"] is False and facts["MAD"]["unit"] == "gray levels (0-255)"
    methods = json.loads((plugin_run / "methods.json").read_text())["methods"]
    assert methods["minimum"] == {"class_path": "ivif_bench_example.MinimumFusion", "needs_training": False}

    # the leaderboard ranks MAD in its own direction: the lowest mean is bold
    board = pd.read_csv(plugin_run / "leaderboard.csv")
    text = (plugin_run / "leaderboard.md").read_text(encoding="utf-8")
    assert "| Metric | average | max | minimum | didfuse | mine |" in text
    for dataset in ("sample_tno", "ifcnn_iv"):
        mad = board[(board.dataset == dataset) & (board.metric == "MAD")].set_index("method")["mean"]
        row = next(line for line in text.split(f"## {dataset}")[1].splitlines() if line.startswith("| MAD ↓"))
        assert f"**{mad.min():.3f}**" in row and f"**{mad.max():.3f}**" not in row
    assert "**MAD** (lower is better; gray levels (0-255)): mean |F - (IR + VIS) / 2|" in text

    plots = {p.name for p in (plugin_run / "plots").iterdir()}
    assert {"bars_ifcnn_iv.png", "per_image_ifcnn_iv.png", "qualitative.png"} <= plots
    runs = {r["name"]: r for r in map(read_offline_run, (plugin_run / "wandb").glob("offline-run-*"))}
    assert runs["mine-seed0"]["job_type"] == "train" and runs["minimum-seed0"]["job_type"] == "reference"
    assert "test/ifcnn_iv/MAD" in runs["mine-seed0"]["history_keys"] and runs["run-leaderboard"]["finished"]


def test_the_facts_travel_with_the_run_dir(plugin_run, tmp_path):
    """Without the plugin installed, the leaderboard and the plots still rank MAD the way the run recorded it."""
    ivif_bench("leaderboard", str(plugin_run), "--out", str(tmp_path), path=[str(REPO)])
    assert (tmp_path / "leaderboard.md").read_text() == (plugin_run / "leaderboard.md").read_text()
    ivif_bench("plot", str(plugin_run), "--kind", "bars", "--out", str(tmp_path), path=[str(REPO)])
    assert (tmp_path / "bars_ifcnn_iv.png").stat().st_size > 5000


def test_repro_studies_the_plugin_method_against_the_run(plugin_run, tmp_path, data_root):
    study = tmp_path / "study"
    ivif_bench("repro", "--method", "mine", "--runs", "2", "--profile", "smoke", "--datasets", "ifcnn_iv",
               "--limit-pairs", "1", "--metrics", "MAD,EN", "--max-steps", "1", "--cpus-per-run", "1",
               "--data-root", str(data_root), "--competitors", str(plugin_run), "--out", str(study),
               "--wandb", "disabled", "--no-progress")
    report = pd.read_csv(study / "repro_report.csv").set_index("metric")
    board = pd.read_csv(plugin_run / "leaderboard.csv")
    mad = board[(board.dataset == "ifcnn_iv") & (board.metric == "MAD") & (board.method != "mine")]
    assert report.loc["MAD", "best_competitor"] == mad.sort_values("mean")["method"].iloc[0]  # lowest is best
    assert not report.loc["MAD", "higher_is_better"] and report.loc["MAD", "n_runs"] == 2
    assert "| MAD ↓ |" in (study / "repro_report.md").read_text(encoding="utf-8")


def test_fuse_and_train_take_the_plugin_method(plugin_run, tmp_path, data_root):
    checkpoint = plugin_run / "checkpoints" / "mine" / "seed0" / "final.ckpt"
    ivif_bench("fuse", "--method", "mine", "--ckpt", str(checkpoint), "--dataset", "ifcnn_iv", "--ids", "Camp",
               "--out", str(tmp_path / "mine"), "--data-root", str(data_root))
    assert read_image(tmp_path / "mine" / "Camp.png").shape == read_image(data_root / IFCNN / "Camp_IR.png").shape
    ivif_bench("fuse", "--method", "minimum", "--dataset", "ifcnn_iv", "--ids", "Camp", "--out", str(tmp_path / "min"),
               "--data-root", str(data_root))
    ir, vis = (read_image(data_root / IFCNN / f"Camp_{role}.png") for role in ("IR", "Vis"))
    assert np.array_equal(read_image(tmp_path / "min" / "Camp.png"), np.minimum(ir, vis))

    config = PLUGIN / "example" / "ivif_bench_example" / "configs" / "smoke.yaml"
    ivif_bench("train", "--config", str(config), "--trainer.max_steps", "1", "--trainer.default_root_dir",
               str(tmp_path / "train"), "--data.init_args.data_root", str(data_root))
    trained = next((tmp_path / "train" / "checkpoints").glob("*.ckpt"))
    hparams = [torch.load(p, map_location="cpu", weights_only=False)["hyper_parameters"] for p in (trained, checkpoint)]
    assert hparams[0] == hparams[1] and hparams[0]["lr"] == 1e-4  # one YAML, one meaning under train and run


def test_plugin_option_and_its_errors(tmp_path, data_root):
    code_only = [str(REPO), str(PLUGIN / "example")]  # not installed: no entry point
    args = ["fuse", "--method", "minimum", "--dataset", "ifcnn_iv", "--ids", "Camp", "--data-root", str(data_root)]
    missing = ivif_bench(*args, "--out", str(tmp_path / "a"), path=code_only, expect=2)
    assert "unknown dataset 'ifcnn_iv'" in missing.stderr  # nothing of the plugin's is registered
    ivif_bench(*args, "--out", str(tmp_path / "b"), "--plugin", "ivif_bench_example", path=code_only)
    assert (tmp_path / "b" / "Camp.png").is_file()
    listed = ivif_bench("data", "list", "--plugin", "ivif_bench_example", path=code_only)
    assert "ifcnn_iv" in listed.stdout and "uzeful/IFCNN@8fe59c2" in listed.stdout
    verified = ivif_bench("data", "verify", "ifcnn_iv", "--data-root", str(data_root), "--plugin=ivif_bench_example",
                          path=code_only)
    assert "ifcnn_iv" in verified.stdout and "14/14" in verified.stdout.replace(" ", "")
    wrong = ivif_bench("data", "list", "--plugin", "no_such_plugin", path=code_only, expect=2)
    assert wrong.stderr.strip() == ("ivif-bench data: error: --plugin no_such_plugin: no module 'no_such_plugin' on the "
                                    "Python path (install the plugin's package, or put its folder on PYTHONPATH)")


def test_registrations_that_cannot_work_are_refused():
    from datamodules import DatasetSpec, register_dataset
    from lightning_modules import register_method
    from metrics import MetricInfo, register_convention, register_metric
    from metrics.entropy import Entropy
    from metrics.functional.entropy import entropy

    with pytest.raises(ValueError, match="higher_is_better is True but the MetricInfo says False"):
        register_metric(MetricInfo("EN2", Entropy, entropy, higher_is_better=False, unit="bits", definition="d",
                                   reference="r"))
    with pytest.raises(ValueError, match="is not a metrics.FusionMetric"):
        register_metric(MetricInfo("EN2", dict, entropy, higher_is_better=True, unit="", definition="", reference=""))
    with pytest.raises(ValueError, match="convention 'default' is registered twice"):
        register_convention("default", "another code")
    with pytest.raises(ValueError, match="no such folder"):
        register_method("mine2", configs="/no/such/configs")
    spec = DatasetSpec(name="mine2", description="", source=None, ir_dir="a", vis_dir="a", ir_pattern="(.+)",
                       vis_pattern="(.+)", pair_count=1, manifest="mine2")
    with pytest.raises(ValueError, match="lives in a data root; give its source"):
        register_dataset(spec, manifest="/no/such.json")
    with pytest.raises(ValueError, match="no manifest file"):
        register_dataset(DatasetSpec(**{**spec.__dict__, "source": "RoadScene"}), manifest="/no/such.json")
