"""Released weights through the CLI: `data download / verify` of the weights and released images (local HTTP
server, a corrupted file), `--ckpt official` in fuse and run, the `pretrained` profile, and the weights origin
of every row of results.csv and the leaderboard.

Runs fuse two 64 x 80 centre crops of real TNO pairs (a folder test set), with one cheap metric.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.cli import main as cli
from benchmarks.provenance import read_json
from benchmarks.report.results import RunLayout, describe_weights, marker_weights, weights_label
from datamodules.datasets import load_pairs, read_pair
from datamodules.io import read_image, save_png, to_tensor
from datamodules.weights import artifact_files, list_artifacts
from lightning_modules import list_methods, registry

pytestmark = pytest.mark.usefixtures("one_thread")

ALL_WEIGHTS = ["didfuse_weights", "densefuse_weights", "ifcnn_weights"]


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def crops(tmp_path_factory, data_root) -> str:
    """A folder test set: 64 x 80 centre crops of TNO pairs 1-2 (real pixels)."""
    root = tmp_path_factory.mktemp("pretrained_crops") / "tno_crop"
    for pair in load_pairs("tno", data_root, "1-2"):
        ir, vis = read_pair(pair)
        top, left = (ir.shape[0] - 64) // 2, (ir.shape[1] - 80) // 2
        for role, image in (("ir", ir), ("vis", vis)):
            save_png(root / role / f"{pair.pair_id}.png", to_tensor(image[top:top + 64, left:left + 80])[0])
    return str(root)


@pytest.fixture()
def fresh(tmp_path, monkeypatch) -> Path:
    """A fresh machine: an empty data root, an empty user cache, no $IVIF_BENCH_DATA."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("IVIF_BENCH_DATA", raising=False)
    root = tmp_path / "fresh-root"
    root.mkdir()
    return root


@pytest.fixture()
def server(tmp_path, data_root, file_server):
    """A raw-file server (raw.githubusercontent.com's layout) with the three weights artifacts; the DIDFuse
    encoder is served with one byte flipped. Yields (base_url, {path in its repository: served file})."""
    served, where = tmp_path / "served", {}
    for name in ALL_WEIGHTS:
        for entry in artifact_files(name):
            target = served / entry.repository / entry.commit / entry.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(entry.target(data_root), target)
            where[entry.path] = target
    encoder = where["Models/Encoder_weight_IJCAI.pkl"]
    data = bytearray(encoder.read_bytes())
    data[len(data) // 2] ^= 0xFF
    encoder.write_bytes(bytes(data))
    yield file_server(served), where


def _run(out: Path, datasets: str, *extra: str, profile: str = "pretrained") -> list[str]:
    return ["run", "--profile", profile, "--datasets", datasets, "--metrics", "EN", "--out", str(out),
            "--wandb", "disabled", "--no-plots", "--no-progress", *extra]


# ------------------------------------------------------------------ data download / verify
def test_one_command_downloads_and_verifies_every_weights_file(server, fresh, data_root, capsys):
    url, served = server
    command = ["data", "download", "weights", "--data-root", str(fresh), "--base-url", url]
    assert cli(command) == 2  # the corrupted encoder: named, left absent, the rest fetched and checked
    captured = capsys.readouterr()
    encoder = fresh / "IVIF-DIDFuse/Models/Encoder_weight_IJCAI.pkl"
    assert f"{encoder}: downloaded from {url}/Zhaozixiang1228/IVIF-DIDFuse/" in captured.err
    assert "sha256 does not match" in captured.err and captured.err.count("\n") == 1
    assert "6 file(s) fetched" in captured.out and not encoder.exists()
    assert not [p for p in fresh.rglob("*") if p.is_file() and p.suffix not in (".pkl", ".model", ".pth")]

    # upstream fixed: the same command fetches the one missing file and verifies all three artifacts
    shutil.copyfile(data_root / "IVIF-DIDFuse/Models/Encoder_weight_IJCAI.pkl", served["Models/Encoder_weight_IJCAI.pkl"])
    assert cli(command) == 0
    out = capsys.readouterr().out
    assert "1 file(s) fetched" in out
    for line in ("didfuse_weights: complete, 2/2 files", "densefuse_weights: complete, 2/2 files",
                 "ifcnn_weights: complete, 3/3 files"):
        assert line in out
    assert cli(["data", "verify", "weights", "--data-root", str(fresh)]) == 0
    capsys.readouterr()

    # and then every released model fuses on that fresh machine
    for method in ("didfuse", "densefuse", "ifcnn"):
        assert cli(["fuse", "--method", method, "--ckpt", "official", "--dataset", "sample_tno", "--ids", "8",
                    "--out", str(fresh.parent / method), "--data-root", str(fresh)]) == 0
        assert read_image(fresh.parent / method / "8.png").shape == (256, 256)


def test_verify_checks_the_weights_and_the_released_images_naming_an_altered_file(data_root, tmp_path, capsys):
    assert cli(["data", "verify", "weights", "released", "--data-root", str(data_root)]) == 0
    out = capsys.readouterr().out
    for name in list_artifacts():
        assert f"{name}: complete" in out
    # a root of links to the DIDFuse files, with the encoder and TNO F1.png replaced by altered copies
    root = tmp_path / "root"
    for name in ("didfuse_weights", "didfuse_released"):
        for entry in artifact_files(name):
            entry.target(root).parent.mkdir(parents=True, exist_ok=True)
            entry.target(root).symlink_to(entry.target(data_root))
    altered = [root / "IVIF-DIDFuse/Models/Encoder_weight_IJCAI.pkl", root / "IVIF-DIDFuse/Test_result/TNO_IJCAI/F1.png"]
    for path in altered:
        data = bytearray(path.read_bytes())
        path.unlink()
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    assert cli(["data", "verify", "didfuse_weights", "didfuse_released", "--data-root", str(root)]) == 1
    out = capsys.readouterr().out
    assert f"didfuse_weights: CORRUPT, 1/2 files; {altered[0]}: sha256 differs" in out
    assert f"didfuse_released: CORRUPT, 131/132 files; {altered[1]}: sha256 differs" in out
    assert f"ivif-bench data download didfuse_weights didfuse_released --data-root {root}" in out
    # names that are neither datasets nor artifacts, and --ids with an artifact, are one-line errors
    assert cli(["data", "verify", "ifcnn", "--data-root", str(root)]) == 2
    assert "unknown dataset ifcnn (nor an artifact or a group); " in capsys.readouterr().err
    assert cli(["data", "download", "weights", "--ids", "1", "--data-root", str(root)]) == 2
    assert "artifacts (didfuse_weights, densefuse_weights, ifcnn_weights) are fetched and checked whole" in \
        capsys.readouterr().err


# ------------------------------------------------------------------ fuse --ckpt official
def test_fuse_official_names_the_command_when_the_weights_are_missing(fresh, crops, capsys):
    for method, artifact, default in (("densefuse", "densefuse_weights", ["--ckpt", "official"]),
                                      ("ifcnn", "ifcnn_weights", [])):  # official is ifcnn's default
        assert cli(["fuse", "--method", method, *default, "--dataset", crops, "--out", str(fresh.parent / "f"),
                    "--data-root", str(fresh)]) == 2
        err = capsys.readouterr().err
        assert "missing" in err and f"ivif-bench data download {artifact} --data-root {fresh}" in err, err
    assert cli(["fuse", "--method", "fusiongan", "--ckpt", "official", "--dataset", crops, "--out", str(fresh)]) == 2
    assert "method 'fusiongan' has no released weights" in capsys.readouterr().err


# ------------------------------------------------------------------ run: the pretrained profile
@pytest.fixture(scope="module")
def pretrained_run(crops, data_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pretrained") / "run"
    assert cli(_run(out, crops, "--data-root", str(data_root))) == 0
    return out


def test_pretrained_profile_runs_every_method_with_released_weights(pretrained_run, data_root, capsys):
    results = pd.read_csv(pretrained_run / "results.csv", dtype={"image": str})
    weights = results.drop_duplicates("method").set_index("method")["weights"].to_dict()
    assert weights == {"average": "none", "max": "none", "densefuse": "official:densefuse_weights",
                       "didfuse": "official:didfuse_weights", "ifcnn": "official:ifcnn_weights"}
    assert set(list_methods(released_weights=True)) == {"densefuse", "didfuse", "ifcnn"}
    assert not list((pretrained_run / "checkpoints").glob("*/*/*.ckpt"))  # nothing trained
    marker = read_json(pretrained_run / "units/ifcnn/seed0/tno_crop.done.json")
    assert marker["weights"]["artifact"] == "ifcnn_weights" and marker["weights"]["hyper_parameters"] == {
        "normalization": "imagenet", "scheme": "max"}  # benchmarks/configs/ifcnn/pretrained.yaml
    assert len(marker["weights"]["files"]) == 3
    board = (pretrained_run / "leaderboard.md").read_text(encoding="utf-8")
    assert ("| weights | none | none | official (densefuse_weights) | official (didfuse_weights) | "
            "official (ifcnn_weights) |") in board
    summary = pd.read_csv(pretrained_run / "leaderboard.csv")
    assert set(summary["weights"]) == {"none", "official (densefuse_weights)", "official (didfuse_weights)",
                                       "official (ifcnn_weights)"}
    assert r"Weights & none & none & official (densefuse\_weights)" in (pretrained_run / "leaderboard.tex").read_text()


def test_pretrained_fusions_equal_the_fuse_command(pretrained_run, crops, data_root, tmp_path):
    for method in ("didfuse", "ifcnn"):
        assert cli(["fuse", "--method", method, "--ckpt", "official", "--dataset", crops, "--out",
                    str(tmp_path / method), "--data-root", str(data_root)]) == 0
        for pair_id in ("1", "2"):
            assert (read_image(tmp_path / method / f"{pair_id}.png")
                    == read_image(pretrained_run / "fused" / method / "tno_crop" / f"{pair_id}.png")).all()


def test_a_rerun_skips_and_a_changed_hyper_parameter_redoes(pretrained_run, crops, data_root, tmp_path, capsys,
                                                            monkeypatch):
    from benchmarks import profiles

    run = tmp_path / "run"
    shutil.copytree(pretrained_run, run)
    capsys.readouterr()
    assert cli(_run(run, crops, "--data-root", str(data_root), "--methods", "ifcnn")) == 0
    assert "skip ifcnn/seed0/tno_crop: done" in capsys.readouterr().out
    folder = tmp_path / "configs" / "ifcnn"
    folder.mkdir(parents=True)
    text = (profiles.CONFIG_DIR / "ifcnn" / "pretrained.yaml").read_text(encoding="utf-8")
    (folder / "pretrained.yaml").write_text(text.replace("scheme: max", "scheme: sum"), encoding="utf-8")
    monkeypatch.setattr(profiles, "CONFIG_DIR", tmp_path / "configs")
    assert cli(_run(run, crops, "--data-root", str(data_root), "--methods", "ifcnn")) == 0
    assert "redo ifcnn/seed0/tno_crop: changed weights" in capsys.readouterr().out
    assert read_json(run / "units/ifcnn/seed0/tno_crop.done.json")["weights"]["hyper_parameters"]["scheme"] == "sum"


PLUGIN = '''"""A plugin's method with released weights: the average rule, whose "weights" are checked DIDFuse files."""
from lightning_modules import register_method
from lightning_modules.baselines import AverageFusion


@register_method("released_mean")
class ReleasedMean(AverageFusion):
    needs_training = True
    official_weights = "didfuse_weights"

    @classmethod
    def from_official(cls, data_root=None, **kwargs):
        from datamodules.weights import weights_path

        weights_path("didfuse", "decoder", data_root)  # checked against its sha256, as a real method's file
        return cls(**kwargs)
'''


def test_a_plugin_method_with_released_weights_joins_the_profile(crops, data_root, tmp_path, monkeypatch):
    from benchmarks import plugins
    from benchmarks.run import RunOptions, plan_run

    (tmp_path / "released_plugin_pretrained.py").write_text(PLUGIN, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # the registration ends with the test
    monkeypatch.setattr(plugins, "_LOADED", dict(plugins._LOADED))
    plan = plan_run(RunOptions(profile="pretrained", datasets=[crops], data_root=data_root, metrics=["EN"],
                               out=tmp_path / "planned", plugins=["released_plugin_pretrained"], wandb="disabled"))
    assert [(m.name, m.official) for m in plan.methods] == [
        ("average", False), ("max", False), ("densefuse", True), ("didfuse", True), ("ifcnn", True),
        ("released_mean", True)]
    out = tmp_path / "run"
    assert cli(_run(out, crops, "--data-root", str(data_root), "--methods", "released_mean")) == 0
    results = pd.read_csv(out / "results.csv")
    assert set(results["method"]) == {"average", "max", "released_mean"}
    assert set(results.loc[results["method"] == "released_mean", "weights"]) == {"official:didfuse_weights"}


# ------------------------------------------------------------------ run: --ckpt official, ifcnn in every profile
def test_ckpt_official_and_trained_and_user_checkpoints_are_recorded_per_row(crops, data_root, tmp_path, capsys):
    out = tmp_path / "run"
    common = ["--data-root", str(data_root), "--max-steps", "1"]
    assert cli(_run(out, crops, "--methods", "densefuse,didfuse,ifcnn", "--ckpt", "didfuse=official", *common,
                    profile="smoke")) == 0
    results = pd.read_csv(out / "results.csv")
    weights = results.drop_duplicates("method").set_index("method")["weights"].to_dict()
    assert weights == {"average": "none", "max": "none", "densefuse": "trained:smoke:seed0",
                       "didfuse": "official:didfuse_weights", "ifcnn": "official:ifcnn_weights"}
    assert sorted(p.parent.parent.name for p in (out / "checkpoints").glob("*/*/final.ckpt")) == ["densefuse"]
    board = (out / "leaderboard.md").read_text(encoding="utf-8")
    assert "| weights | none | none | trained (smoke, seed 0) | official (didfuse_weights) | official (ifcnn_weights) |" \
        in board

    final = out / "checkpoints/densefuse/seed0/final.ckpt"
    reuse = tmp_path / "reuse"
    assert cli(_run(reuse, crops, "--methods", "densefuse", "--ckpt", f"densefuse={final}", *common)) == 0
    results = pd.read_csv(reuse / "results.csv")
    assert set(results.loc[results["method"] == "densefuse", "weights"]) == {f"checkpoint:{final.resolve()}"}
    assert "| weights | none | none | checkpoint (final.ckpt) |" in (reuse / "leaderboard.md").read_text(encoding="utf-8")
    capsys.readouterr()
    for args, message in (
            (["--methods", "fusiongan", "--ckpt", "fusiongan=official"],
             "--ckpt fusiongan=official: method 'fusiongan' has no released weights"),
            (["--methods", "fusiongan"], "the pretrained profile: method 'fusiongan' has no released weights")):
        assert cli(_run(tmp_path / "bad", crops, *args, *common)) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "bad").exists()


def test_a_fresh_machine_is_told_the_one_command(fresh, crops, tmp_path, capsys):
    assert cli(_run(tmp_path / "run", crops, "--data-root", str(fresh))) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "released weights not available: densefuse: " in err
    assert f"ivif-bench data download didfuse_weights --data-root {fresh}" in err
    assert err.strip().endswith(f"every method's released weights in one command: ivif-bench data download weights "
                                f"--data-root {fresh}")
    assert cli(_run(tmp_path / "run", crops, "--data-root", str(fresh), "--methods", "max,ifcnn",
                    profile="smoke")) == 2  # asked for by name: refused
    assert "ivif-bench data download ifcnn_weights" in capsys.readouterr().err
    assert cli(_run(tmp_path / "run", crops, "--data-root", str(fresh), "--methods", "max",
                    "--ckpt", "max=official", profile="smoke")) == 2
    assert "reference rule without weights" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------ the labels
def test_weights_labels_and_their_description():
    assert weights_label({"kind": "none"}) == "none" and weights_label(None) == "unknown"
    assert weights_label({"kind": "official", "artifact": "ifcnn_weights"}) == "official:ifcnn_weights"
    assert weights_label({"kind": "trained", "profile": "quick", "seed": 3}) == "trained:quick:seed3"
    assert weights_label({"kind": "checkpoint", "checkpoint": "/x/y.ckpt"}) == "checkpoint:/x/y.ckpt"
    assert describe_weights(["trained:quick:seed0"] * 3) == "trained (quick, seed 0)"
    assert describe_weights([f"trained:quick:seed{k}" for k in range(5)]) == "trained (quick, seeds 0-4)"
    assert describe_weights(["trained:quick:seed0", "trained:quick:seed7"]) == "trained (quick, 2 seeds)"
    assert describe_weights(["checkpoint:/x/y.ckpt"], short=True) == "checkpoint (y.ckpt)"
    assert describe_weights(["official:a", float("nan")]) == "official (a) + unknown"


def test_markers_written_before_the_weights_record_still_say_where_the_weights_came_from(tmp_path):
    layout = RunLayout(tmp_path)
    (tmp_path / "provenance.json").write_text('{"profile": "quick"}', encoding="utf-8")
    final = layout.final_checkpoint("densefuse", 0)
    old = {"method": "densefuse", "seed": 0, "method_facts": {"needs_training": True}}
    assert marker_weights({**old, "checkpoint": str(final)}, layout) == "trained:quick:seed0"
    assert marker_weights({**old, "checkpoint": "/elsewhere/x.ckpt"}, layout) == "checkpoint:/elsewhere/x.ckpt"
    assert marker_weights({**old, "method_facts": {"needs_training": False}, "checkpoint": None}, layout) == "none"
    assert marker_weights({**old, "weights": {"kind": "official", "artifact": "a"}}, layout) == "official:a"
