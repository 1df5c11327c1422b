"""`ivif-bench train` (LightningCLI fit) then `ivif-bench fuse`, end to end on real pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from benchmarks.cli import main
from benchmarks.commands.train import build_cli
from datamodules.io import read_image, to_tensor, to_uint8
from lightning_modules import get_method_class

CONFIGS = Path(__file__).resolve().parents[2] / "benchmarks" / "configs"
TNO = "IVIF-DIDFuse/Datasets/Test_data_TNO"
SMALL_TNO_IDS = ("8",)  # the smallest TNO pair (256 x 256)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_root):
    """Checkpoints of the smoke configs, trained once through `ivif-bench train`: {method: Path}."""
    checkpoints = {}
    for method in ("didfuse", "densefuse"):
        root = tmp_path_factory.mktemp(f"train-{method}")
        code = main(["train", "--config", str(CONFIGS / method / "smoke.yaml"),
                     "--trainer.default_root_dir", str(root), "--data.init_args.data_root", str(data_root)])
        assert code == 0
        found = sorted((root / "checkpoints").glob("*.ckpt"))
        assert len(found) == 1, found
        saved = yaml.safe_load((root / "config.yaml").read_text())
        assert saved["trainer"]["max_steps"] == 4 and saved["data"]["init_args"]["data_root"] == str(data_root)
        checkpoints[method] = found[0]
    return checkpoints


@pytest.mark.parametrize("method", ["didfuse", "densefuse"])
def test_train_then_fuse_writes_the_model_fusions(method, trained, tmp_path, data_root, capsys):
    checkpoint = trained[method]
    assert "step=4" in checkpoint.name  # max_steps of the smoke config
    out = tmp_path / "fused"
    code = main(["fuse", "--method", method, "--ckpt", str(checkpoint), "--dataset", "tno",
                 "--ids", ",".join(SMALL_TNO_IDS), "--out", str(out), "--data-root", str(data_root)])
    assert code == 0
    assert f"fused 1 pair of tno with {method}" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("*.png")) == sorted(f"{k}.png" for k in SMALL_TNO_IDS)
    model = get_method_class(method).load_from_checkpoint(checkpoint, map_location="cpu").eval()
    for k in SMALL_TNO_IDS:
        ir = to_tensor(read_image(data_root / TNO / f"IR{k}.bmp"))[None]
        vis = to_tensor(read_image(data_root / TNO / f"VIS{k}.bmp"))[None]
        with torch.no_grad():
            expected = to_uint8(model.fuse(ir, vis))
        assert np.array_equal(read_image(out / f"{k}.png"), expected)


def test_fuse_official_didfuse_weights_reproduce_the_released_image(tmp_path, data_root):
    assert main(["fuse", "--method", "didfuse", "--ckpt", "official", "--dataset", "tno", "--ids", "8",
                 "--out", str(tmp_path), "--data-root", str(data_root)]) == 0
    ours = read_image(tmp_path / "8.png").astype(int)
    released = read_image(data_root / "IVIF-DIDFuse" / "Test_result" / "TNO_IJCAI" / "F8.png").astype(int)
    assert np.abs(ours - released).max() <= 1


def test_fuse_reference_rule_needs_no_checkpoint(tmp_path, data_root):
    assert main(["fuse", "--method", "max", "--dataset", "tno", "--ids", "8", "--out", str(tmp_path),
                 "--data-root", str(data_root)]) == 0
    ir, vis = (read_image(data_root / TNO / f"{m}8.bmp") for m in ("IR", "VIS"))
    assert np.array_equal(read_image(tmp_path / "8.png"), np.maximum(ir, vis))


def test_fuse_refuses_a_checkpoint_of_another_method(trained, tmp_path, data_root, capsys):
    code = main(["fuse", "--method", "densefuse", "--ckpt", str(trained["didfuse"]), "--dataset", "tno",
                 "--ids", "8", "--out", str(tmp_path), "--data-root", str(data_root)])
    assert code == 2
    assert "a didfuse checkpoint, not 'densefuse'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("args,message", [
    (["--method", "nosuch", "--ckpt", "x.ckpt"], "unknown method 'nosuch'"),
    (["--method", "didfuse"], "needs --ckpt"),
    (["--method", "didfuse", "--ckpt", "missing.ckpt"], "missing.ckpt: no such checkpoint file"),
    (["--method", "max", "--ckpt", "official"], "--ckpt official: method 'max' has no released weights"),
    (["--method", "max", "--fusion-strategy", "sum"], "no hyper-parameter fusion_strategy"),
])
def test_fuse_user_errors_are_one_line(args, message, tmp_path, data_root, capsys):
    code = main(["fuse", *args, "--dataset", "tno", "--ids", "8", "--out", str(tmp_path), "--data-root", str(data_root)])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_fuse_refuses_a_file_that_is_not_a_checkpoint(tmp_path, data_root, capsys):
    bogus = tmp_path / "model.ckpt"
    bogus.write_text("seed_everything: 0\n")
    code = main(["fuse", "--method", "didfuse", "--ckpt", str(bogus), "--dataset", "tno", "--ids", "8",
                 "--out", str(tmp_path / "out"), "--data-root", str(data_root)])
    assert code == 2 and "not a Lightning checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("config", sorted(CONFIGS.glob("d*fuse/*.yaml")), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_configs_parse_with_lightning_cli(config, data_root):
    """Every profile of these methods builds its model and data module through LightningCLI, and says
    in a leading comment block what it changes from the paper."""
    text = config.read_text()
    assert text.startswith("# ") and "paper" in text.split("\nseed_everything")[0].lower()
    cli = build_cli(["--config", str(config), "--data.init_args.data_root", str(data_root)], run=False)
    method = config.parent.name
    assert isinstance(cli.model, get_method_class(method))
    assert cli.datamodule.test_datasets == ["tno", "flir", "nir"]


def test_train_with_a_missing_config_fails_cleanly(tmp_path, capsys):
    code = main(["train", "--config", str(tmp_path / "nope.yaml")])
    assert code != 0
    assert "nope.yaml" in capsys.readouterr().err
