"""One config interpreter: the same YAML gives the same hyper-parameters under train, run and repro; bad keys and
values are refused in one line naming the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from benchmarks import profiles
from benchmarks.cli import main as cli

SMOKE = Path(profiles.__file__).parent / "configs" / "didfuse" / "smoke.yaml"


@pytest.fixture()
def config_dir(tmp_path, monkeypatch) -> Path:
    """A config dir whose didfuse/smoke.yaml writes the learning rate as YAML 1.1 reads a string: ``1e-4``."""
    text = SMOKE.read_text(encoding="utf-8")
    assert "    lr: 0.001\n" in text
    folder = tmp_path / "configs"
    (folder / "didfuse").mkdir(parents=True)
    (folder / "didfuse" / "smoke.yaml").write_text(text.replace("    lr: 0.001\n", "    lr: 1e-4\n"), encoding="utf-8")
    monkeypatch.setattr(profiles, "CONFIG_DIR", folder)
    return folder


def _hyper_parameters(checkpoint: Path) -> dict:
    return dict(torch.load(checkpoint, map_location="cpu", weights_only=False)["hyper_parameters"])


def test_one_yaml_gives_the_same_hyper_parameters_under_train_run_and_repro(config_dir, tmp_path, data_root):
    path = config_dir / "didfuse" / "smoke.yaml"
    common = ["--data-root", str(data_root), "--max-steps", "1", "--datasets", "sample_tno", "--limit-pairs", "1",
              "--metrics", "EN", "--wandb", "disabled", "--no-progress", "--profile", "smoke"]
    assert cli(["train", "--config", str(path), "--trainer.max_steps", "1", "--trainer.default_root_dir",
                str(tmp_path / "train"), "--data.init_args.data_root", str(data_root)]) == 0
    trained = _hyper_parameters(next((tmp_path / "train" / "checkpoints").glob("*.ckpt")))
    assert cli(["run", "--methods", "didfuse", "--out", str(tmp_path / "run"), "--no-plots", *common]) == 0
    run = _hyper_parameters(tmp_path / "run" / "checkpoints" / "didfuse" / "seed0" / "final.ckpt")
    assert cli(["repro", "--method", "didfuse", "--runs", "1", "--cpus-per-run", "1", "--out", str(tmp_path / "repro"),
                *common]) == 0
    repro = _hyper_parameters(tmp_path / "repro" / "checkpoints" / "didfuse" / "seed0" / "final.ckpt")
    assert type(trained["lr"]) is float and trained["lr"] == 1e-4
    assert trained == run == repro
    assert trained["_class_path"] == "lightning_modules.didfuse.DIDFuse"


@pytest.mark.parametrize("old, new, words", [
    ("    lr: 1e-4\n", "    lr: 1e-4\n    lrr: 1\n",
     [": model.init_args.lrr: unknown key for lightning_modules.didfuse.DIDFuse (did you mean 'lr'?)",
      "ivif-bench train --model.help lightning_modules.didfuse.DIDFuse"]),
    ("    crop_size: 64\n", "    crop_size: big\n", [": data.init_args.crop_size: expected int, got 'big'"]),
    ("  max_steps: 4\n", "  max_step: 4\n", [": trainer.max_step: unknown key (did you mean 'max_steps'?)"]),
    ("  max_steps: 4\n", "  max_steps: -5\n", [": trainer.max_steps: must be -1 (no limit) or an integer >= 1"]),
    ("    batch_size: 4\n", "    batch_size: 0\n", [": data.init_args.batch_size: must be an integer >= 1; got 0"]),
])
def test_a_bad_key_or_value_is_one_line_naming_it_and_the_file(config_dir, tmp_path, capsys, old, new, words):
    path = config_dir / "didfuse" / "smoke.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    out = tmp_path / "run"
    assert cli(["run", "--methods", "didfuse", "--datasets", "sample_tno", "--profile", "smoke", "--metrics", "EN",
                "--out", str(out), "--wandb", "disabled", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and all(w in err for w in words), err
    assert not out.exists()


def test_configs_outside_the_fit_format_are_refused_naming_the_file(config_dir, tmp_path, capsys):
    path = config_dir / "didfuse" / "smoke.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "ckpt_path: last\n", encoding="utf-8")
    assert cli(["run", "--methods", "didfuse", "--datasets", "sample_tno", "--profile", "smoke", "--metrics", "EN",
                "--out", str(tmp_path / "run"), "--wandb", "disabled", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: unsupported top-level key(s) ckpt_path" in err and "--ckpt" in err
