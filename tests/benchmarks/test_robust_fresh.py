"""A fresh machine (no data root, empty cache): the main job trains and benchmarks every registered method on the
embedded sample and says so first; a requested method that cannot run stops the run, naming it (#16 item 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from benchmarks.cli import main as cli
from benchmarks.report.results import RunLayout
from benchmarks.run.plan import SAMPLE_DATASETS
from benchmarks.run.training_data import EMBEDDED_TRAIN
from lightning_modules import get_method_class, list_methods

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture()
def fresh_machine(tmp_path, monkeypatch) -> Path:
    """An empty home (hence an empty user cache dir) and no $IVIF_BENCH_DATA."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("IVIF_BENCH_DATA", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    return home


def _trainable() -> list[str]:
    return [m for m in list_methods(trainable=True) if not getattr(get_method_class(m), "pretrained_only", False)]


def test_the_smoke_main_job_trains_every_method_on_the_embedded_sample(fresh_machine, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli(["run", "--profile", "smoke", "--out", str(out), "--max-steps", "1", "--limit-pairs", "1",
                "--metrics", "EN,SD", "--wandb", "disabled", "--no-plots", "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    first = stdout.splitlines()[0]
    assert first.startswith("data: the embedded sample (test: sample_tno, sample_flir, sample_nir; training: "
                            f"{EMBEDDED_TRAIN} = flir_train pairs 1-8, instead of flir_train)"), first
    assert "does not hold tno, flir, nir, flir_train" in first and str(fresh_machine) in first
    assert "ivif-bench data download tno flir nir flir_train --data-root" in first
    layout = RunLayout(out)
    results = pd.read_csv(layout.results, dtype={"image": str})
    assert set(results.method) == set(_trainable()) | set(list_methods(trainable=False))  # every registered method
    assert set(results.dataset) == set(SAMPLE_DATASETS)
    for method in _trainable():
        config = yaml.safe_load(layout.config_file(method, 0).read_text())
        assert config["data"]["init_args"]["train_dataset"] == EMBEDDED_TRAIN, method
        assert json.loads(layout.training_record(method, 0).read_text())["global_step"] >= 1, method  # GANs: 3 a batch
    # the smoke configs' pair selections are kept where the sample holds them (the GANs: pairs 1-4)
    assert yaml.safe_load(layout.config_file("fusiongan", 0).read_text())["data"]["init_args"]["train_ids"] == \
        ["1", "2", "3", "4"]
    # pretrained only, its weights not downloaded: named with the command, not counted as a skip
    assert "skip method ifcnn: released weights not available" in stdout
    assert "ivif-bench data download ifcnn_weights" in stdout


def test_the_full_test_sets_never_train_on_the_sample_and_a_skip_stops_the_run(data_root, tmp_path, capsys):
    """A data root with the test sets but not flir_train: --methods all names the methods it cannot run."""
    root = tmp_path / "root"
    datasets = root / "IVIF-DIDFuse" / "Datasets"
    datasets.mkdir(parents=True)
    for name in ("Test_data_TNO", "Test_data_FLIR", "Test_data_NIR_Country"):
        (datasets / name).symlink_to(data_root / "IVIF-DIDFuse" / "Datasets" / name)
    out = tmp_path / "run"
    args = ["run", "--profile", "smoke", "--data-root", str(root), "--datasets", "tno", "--limit-pairs", "1",
            "--metrics", "EN", "--out", str(out), "--wandb", "disabled", "--no-plots", "--no-progress"]
    assert cli(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{len(_trainable())} requested method(s) cannot run: " in err
    assert all(method in err for method in _trainable()) and "ifcnn" not in err
    assert "training data 'flir_train' not available" in err and f"--train-dataset {EMBEDDED_TRAIN}" in err
    assert "--allow-skip" in err and not out.exists()

    assert cli([*args, "--allow-skip"]) == 0  # allowed: the reference rules run, the skips are named
    stdout = capsys.readouterr().out
    assert stdout.splitlines()[0].startswith(f"data: tno (data root {root} (--data-root))")
    assert "skip method didfuse: training data 'flir_train' not available" in stdout
    assert set(pd.read_csv(out / "results.csv").method) == set(list_methods(trainable=False))
    assert json.loads((out / "provenance.json").read_text())["skipped_methods"]["didfuse"].startswith("training data")

    assert cli([*args, "--methods", "didfuse", "--out", str(tmp_path / "one")]) == 2  # asked by name: refused
    assert "didfuse: its training data is not available" in capsys.readouterr().err
