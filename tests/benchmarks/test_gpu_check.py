"""benchmarks/speed/gpu_check.py --tiny on the CPU (real TNO / FLIR / NIR crops), and the runner's metric device.

The tiny run covers every part of the GPU script: the float32 side runs the accelerators' float32
arithmetic on the CPU, the training step runs on the CPU twice, and the runner trains DIDFuse's smoke
profile for 2 steps with ``metric_device="auto"`` (here: the CPU, float64, so its values are the PNGs' bit
for bit).
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from benchmarks.run.evaluate import metric_device_of, metric_dtype_of
from benchmarks.run.plan import RunError
from benchmarks.speed import gpu_check
from datamodules.io import read_image
from metrics import get_metric


@pytest.fixture(scope="module")
def tiny(data_root, tmp_path_factory, one_thread):
    out = tmp_path_factory.mktemp("gpu_check")
    code = gpu_check.main(["--tiny", "--data-root", str(data_root), "--out", str(out)])
    return code, out, json.loads((out / "gpu_check.json").read_text())


def test_tiny_run_finishes_and_records_its_provenance(tiny):
    code, out, record = tiny
    assert code == 0 and record["status"] == "finished" and record["tiny"] is True
    assert record["seeds"] == [0] and record["versions"]["torch"] == torch.__version__
    assert len(record["git"]["commit"]) == 40 and record["device_under_test"] == "cpu"
    assert list(record["parts"]) == list(gpu_check.PARTS)
    for part in record["parts"].values():
        assert part["status"] == "finished" and 0 < part["wall_s"] <= part["budget_s"]


def test_float32_against_float64_within_the_documented_tolerance(tiny, data_root):
    part = tiny[2]["parts"]["metrics"]
    assert part["pairs"] == ["5", "10"] and part["arithmetic"] == "float32 on CPU (stand-in)" and part["all_within"]
    assert len(part["metrics"]) > 60  # every metric of every convention
    moved = 0
    for key, entry in part["metrics"].items():
        name, convention = key.split(":")
        assert entry["tolerance"] == gpu_check.float32_tolerance(name, convention)
        deviations = [gpu_check.deviation(low, high) for low, high in zip(entry["float32"], entry["float64"])]
        assert len(deviations) == 2 and max(deviations) == entry["max_relative_deviation"], key
        assert entry["within"] and (entry["tolerance"] is None or max(deviations) <= entry["tolerance"]), key
        moved += any(low != high for low, high in zip(entry["float32"], entry["float64"]))
    assert moved >= 40  # float32 did run: most values move in their last digits
    # the float64 side is the runner's exact value: the Metric class on the same 176 x 176 crop of TNO pair 5
    root = data_root / "IVIF-DIDFuse"
    images = [read_image(p)[40:216, 40:216] for p in (root / "Test_result" / "TNO_IJCAI" / "F5.png",
                                                      root / "Datasets" / "Test_data_TNO" / "IR5.bmp",
                                                      root / "Datasets" / "Test_data_TNO" / "VIS5.bmp")]
    for key in ("VIF:default", "Qabf:tang2022", "MI:vifb"):
        metric = get_metric(*key.split(":"))
        metric.update(*(torch.from_numpy(x.copy()).double().div(255).view(1, 1, *x.shape) for x in images))
        assert metric.compute().item() == part["metrics"][key]["float64"][0], key


def test_training_step_and_paper_part(tiny):
    code, out, record = tiny
    step = record["parts"]["train_step"]
    assert step["batch"] == [4, 1, 32, 32] and step["model"]["fusion_strategy"] == "sum"
    for side in ("device", "cpu"):
        assert step[side]["steps_timed"] >= 1 and step[side]["median_wall_s"] > 0
    paper = record["parts"]["paper"]
    assert paper["profile"] == "smoke" and paper["metric_device"] == "auto"
    assert paper["config"]["trainer"]["max_steps"] == 2 and paper["training"]["global_step"] == 2
    assert paper["config"]["model"]["class_path"] == "lightning_modules.didfuse.DIDFuse"
    assert list(paper["table4"]) == ["tno", "flir", "nir"]
    for source, table in paper["table4"].items():
        assert list(table) == list(gpu_check.TABLE4_METRICS)
        assert {m: v["paper"] for m, v in table.items()} == gpu_check.TABLE4[source]
        assert all(math.isfinite(v["released"]) and math.isfinite(v["ours"]) for v in table.values())
        agreement = paper["run_vs_cpu_float64"][source]
        assert agreement["images"] == 2 and agreement["bitwise"]  # on CPU the run's values are its PNGs' exactly
        assert agreement["devices"] == {"fusion_device": "cpu", "metric_device": "cpu", "metric_dtype": "float64"}
    marker = json.loads((out / "run" / "units" / "didfuse" / "seed0" / "tno.done.json").read_text())
    assert (marker["fusion_device"], marker["metric_device"], marker["metric_dtype"]) == ("cpu", "cpu", "float64")


def test_tolerance_lookup_by_metric_and_convention():
    from metrics import engine

    assert gpu_check.FLOAT32_TOLERANCE is engine.FLOAT32_TOLERANCE  # the one table, the product's
    assert gpu_check.float32_tolerance("VIF", "default") == 5e-2 and gpu_check.float32_tolerance("VIF", "tang") == 2e-4
    assert gpu_check.float32_tolerance("EN", "vifb") == 1e-4 and gpu_check.float32_tolerance("Qcb", "vifb") is None
    assert gpu_check.deviation(1.0, 1.0 + 1e-6) < 1e-6 and gpu_check.deviation(math.nan, 1.0) == math.inf
    assert gpu_check.deviation(math.nan, math.nan) == 0.0 and gpu_check.deviation(1e-7, 0.0) == pytest.approx(1e-4)


def test_missing_data_root_is_one_line_before_any_work(tmp_path, capsys):
    code = gpu_check.main(["--tiny", "--data-root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "nowhere" in err and "--data-root DIR" in err and "does not exist" in err
    assert not (tmp_path / "out").exists()
    assert gpu_check.main(["--tiny", "--parts", "metrics,speed"]) == 2
    assert "choose from" in capsys.readouterr().err


def test_metric_device_follows_the_fusion_device_or_is_refused():
    assert metric_device_of("auto", torch.device("cpu")) == torch.device("cpu")
    assert metric_device_of(None, torch.device("cpu")) == torch.device("cpu")
    assert metric_dtype_of(torch.device("cpu")) == "float64"
    with pytest.raises(RunError, match="not a device"):
        metric_device_of("gpu0", torch.device("cpu"))
    if torch.cuda.is_available():
        assert metric_device_of("auto", torch.device("cuda", 0)) == torch.device("cuda", 0)
        assert metric_dtype_of(torch.device("cuda", 0)) == "float32"
    else:
        with pytest.raises(RunError, match="0 CUDA device"):
            metric_device_of("cuda", torch.device("cpu"))
