"""`ivif-bench evaluate`'s engine: worker processes, --out checked first, rows kept per image, resume after a kill.

Real TNO pairs (the smallest: 256 x 256 to 360 x 270) with the DIDFuse authors' fused images.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from benchmarks.cli import main as cli
from datamodules.io import read_image
from metrics import get_metric
from metrics.evaluate import COLUMNS, evaluate_folder_rows
from metrics.results_log import PartialResults

REPO = Path(__file__).resolve().parents[2]
IDS = ["8", "10", "5", "36", "33", "34"]
METRICS = "EN,MI,SSIM,Qabf,VIF,FMI_pixel"


@pytest.fixture
def fused_dir(tno_fused_copy):
    return tno_fused_copy(IDS)


def _rows(fused_dir, data_root, **kwargs):
    return evaluate_folder_rows(fused_dir, "tno", data_root=data_root, pattern="F{id}", ids=",".join(IDS[:3]),
                                progress=False, **kwargs)


def test_workers_and_metric_classes_give_the_same_bits(fused_dir, data_root, one_thread):
    metrics = "EN,MI,SD,SSIM,Qabf,VIF"
    one = _rows(fused_dir, data_root, metrics=metrics, convention="all")
    two = _rows(fused_dir, data_root, metrics=metrics, convention="all", workers=2)
    assert one == two  # tuples of float64: equal bit for bit (no NaN among these)
    tno = data_root / "IVIF-DIDFuse"
    for k in IDS[:3]:
        images = [read_image(p) for p in (tno / "Test_result" / "TNO_IJCAI" / f"F{k}.png",
                                          tno / "Datasets" / "Test_data_TNO" / f"IR{k}.bmp",
                                          tno / "Datasets" / "Test_data_TNO" / f"VIS{k}.bmp")]
        tensors = [torch.from_numpy(x).double().div(255).view(1, 1, *x.shape) for x in images]
        for _, image, name, value, convention, rule in one:
            assert rule == "gray"
            if image == k:
                metric = get_metric(name, convention)  # the runner's path: a torchmetrics Metric, one thread
                metric.update(*tensors)
                assert metric.compute().item() == value, (name, convention, k)


def test_out_folder_or_unwritable_place_is_refused_before_any_work(fused_dir, data_root, tmp_path, capsys):
    base = ["evaluate", str(fused_dir), "--dataset", "tno", "--pattern", "F{id}", "--ids", "5",
            "--metrics", "EN", "--data-root", str(data_root), "--no-progress"]
    folder = tmp_path / "results"
    folder.mkdir()
    assert cli(base + ["--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and "results.csv" in err and len(err.strip().splitlines()) == 1
    assert list(folder.iterdir()) == []
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    assert cli(base + ["--out", str(blocker / "tno.csv")]) == 2
    err = capsys.readouterr().err
    assert "file.txt is a file, not a folder" in err and "Traceback" not in err
    assert cli(base + ["--workers", "0", "--out", str(tmp_path / "x.csv")]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_partial_file_rules(fused_dir, data_root, tmp_path, one_thread):
    out = tmp_path / "tno.csv"
    key = {"metrics": [["EN", "default"]]}
    files = [fused_dir / "F5.png"] * 3
    log = PartialResults(out, key)
    log.append("5", files, [(1.5, "gray"), (float("nan"), "gray")])
    log.close()
    with open(f"{out}.partial", "ab") as handle:  # a kill in the middle of a line
        handle.write(b'{"image": "8", "files": [[1, 2]], "val')
    again = PartialResults(out, key)
    stored = again.done("5", files)
    assert stored[0] == (1.5, "gray") and stored[1][0] != stored[1][0]  # NaN reads back as NaN
    assert again.done("8", files) is None
    again.append("8", files, [(2.0, "gray")])
    again.close()
    lines = Path(f"{out}.partial").read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[2])["image"] == "8"  # the cut line was overwritten
    os.utime(fused_dir / "F5.png", ns=(1, 1))  # a fused image changed since: computed again
    assert PartialResults(out, key).done("5", files) is None
    with pytest.raises(ValueError, match="different evaluation.*metrics"):
        PartialResults(out, {"metrics": [["MI", "default"]]})
    holder = PartialResults(out, key)  # a second evaluation of the same --out at the same time is refused
    with pytest.raises(ValueError, match="another ivif-bench evaluate"):
        PartialResults(out, key)
    holder.close()


def _poll_lines(path: Path, count: int, process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        if process.poll() is not None:
            pytest.fail(f"evaluate ended (code {process.returncode}) before {count} lines reached {path}")
        time.sleep(0.02)
    pytest.fail(f"{path} did not reach {count} lines in {timeout} s")


def test_killed_evaluate_keeps_its_rows_and_resumes(fused_dir, data_root, tmp_path):
    """A real `ivif-bench evaluate` killed (SIGKILL), then interrupted (SIGINT), then run to the end."""
    out = tmp_path / "out" / "tno.csv"
    partial = Path(f"{out}.partial")
    command = [sys.executable, "-m", "benchmarks.cli", "evaluate", str(fused_dir), "--dataset", "tno",
               "--pattern", "F{id}", "--ids", ",".join(IDS), "--metrics", METRICS, "--data-root", str(data_root),
               "--out", str(out), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}

    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _poll_lines(partial, 2, first)  # the header and the first image
    first.kill()
    first.wait()
    kept = partial.read_bytes().count(b"\n") - 1
    assert 1 <= kept < len(IDS) and not out.exists()

    second = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _poll_lines(partial, kept + 2, second)  # one more image
    second.send_signal(signal.SIGINT)
    _, err = second.communicate(timeout=120)
    if second.returncode == 0:  # it finished before the signal arrived: nothing left to resume
        pytest.skip("the second run finished before SIGINT")
    assert second.returncode == 130, err
    assert f"resuming: {kept} of {len(IDS)} images" in err
    assert "run the same command again to resume" in err and "Traceback" not in err
    kept_after = partial.read_bytes().count(b"\n") - 1
    assert kept < kept_after < len(IDS) and not out.exists()

    third = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr
    assert f"resuming: {kept_after} of {len(IDS)} images" in third.stderr
    assert out.exists() and not partial.exists()
    table = pd.read_csv(out, dtype={"image": str})
    assert list(table.columns) == COLUMNS and len(table) == len(IDS) * len(METRICS.split(","))

    torch.set_num_threads(1)
    fresh = evaluate_folder_rows(fused_dir, "tno", data_root=data_root, pattern="F{id}", ids=",".join(IDS),
                                 metrics=METRICS, progress=False)
    assert list(table.itertuples(index=False, name=None)) == fresh  # resumed values bit for bit


def test_float32_batched_path_within_its_tolerance(data_root, one_thread):
    """The accelerators' path (same-size images batched, float32), run on CPU, against float64 one by one."""
    import math

    from metrics.engine import batch_values, float32_deviation, float32_tolerance, image_values, resolve_plan
    from metrics.registry import list_conventions, list_metrics

    tno = data_root / "IVIF-DIDFuse"
    triplets = [tuple(read_image(p)[40:216, 40:216].copy()  # 176 x 176: MS-SSIM's 5 scales fit
                      for p in (tno / "Test_result" / "TNO_IJCAI" / f"F{k}.png",
                                tno / "Datasets" / "Test_data_TNO" / f"IR{k}.bmp",
                                tno / "Datasets" / "Test_data_TNO" / f"VIS{k}.bmp"))
                for k in ("5", "10")]  # one batch of two
    plan = resolve_plan([(n, c) for c in list_conventions() for n in list_metrics(c)])
    float32, _ = batch_values(plan, triplets, "cpu", torch.float32)
    for triplet, values in zip(triplets, float32):
        exact, _ = image_values(plan, *triplet)
        for entry, (low, _), (high, _) in zip(plan, values, exact):
            if math.isnan(high):
                assert math.isnan(low), entry.name
                continue
            tolerance = float32_tolerance(entry.name, entry.convention)
            if tolerance is None:  # float32 is not usable (Qcb): computed in float64 on this path too
                assert low == high, (entry.name, entry.convention)
                continue
            assert float32_deviation(low, high) <= tolerance, (entry.name, entry.convention)
            assert abs(low - high) <= tolerance * max(abs(high), 1e-3), (entry.name, entry.convention)
            assert low != high or entry.name in ("EN", "MI", "CE") or abs(high) < 1e-12  # float32 did run


def test_one_float32_tolerance_table():
    """metrics.engine holds the one float32 table (gpu_check imports it): by name, by NAME:CONVENTION, None."""
    from benchmarks.speed import gpu_check
    from metrics import engine

    assert gpu_check.FLOAT32_TOLERANCE is engine.FLOAT32_TOLERANCE
    assert gpu_check.float32_tolerance is engine.float32_tolerance and gpu_check.deviation is engine.float32_deviation
    assert engine.float32_tolerance("EN", "cddfuse") == engine.FLOAT32_TOLERANCE["default"]
    assert engine.float32_tolerance("VIF", "tang") == 2e-4 and engine.float32_tolerance("VIF", "default") == 5e-2
    assert engine.float32_tolerance("Qabf", "tang2022") == 2e-2 and engine.float32_tolerance("Qabf", "vifb") == 1e-4
    assert engine.float32_tolerance("Qcb", "vifb") is None and engine.float32_tolerance("Qcb", "default") is None
    assert [e.name for e in engine.resolve_plan([("Qcb", "vifb"), ("EN", "vifb")]) if engine.float64_only(e)] == ["Qcb"]


def test_float64_only_metric_stays_float64_on_the_float32_paths(data_root, one_thread):
    """Qcb (tolerance None) on the batched float32 path and through its Metric class under float32 arithmetic:
    the float64 value, bit for bit."""
    from metrics import get_metric
    from metrics.engine import batch_values, image_values, resolve_plan
    from metrics.functional._checks import compute_precision

    tno = data_root / "IVIF-DIDFuse"
    triplet = tuple(read_image(p)[40:136, 40:136].copy()
                    for p in (tno / "Test_result" / "TNO_IJCAI" / "F5.png", tno / "Datasets" / "Test_data_TNO" / "IR5.bmp",
                              tno / "Datasets" / "Test_data_TNO" / "VIS5.bmp"))
    plan = resolve_plan([("Qcb", "vifb"), ("EN", "vifb")])
    ((exact, _),), _ = image_values(plan[:1], *triplet)
    (values,), _ = batch_values(plan, [triplet], "cpu", torch.float32)
    assert values[0][0] == exact
    metric = get_metric("Qcb", "vifb")
    with compute_precision(torch.float32):
        metric.update(*(torch.from_numpy(x).float().div(255).view(1, 1, *x.shape) for x in triplet))
    assert metric.compute().item() == exact
