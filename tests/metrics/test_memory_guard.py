"""The memory guard: an image too large for the memory available is refused with a UserError that names it,
and the estimate is not below the peak measured on a real image."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import metrics
from datamodules.errors import UserError
from metrics import engine
from metrics.evaluate import evaluate_tensors
from metrics.engine import Job, JobRunner, check_memory, image_values, memory_estimate, resolve_plan
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.usefixtures("one_thread")

DEFAULT = [(name, "default") for name in metrics.list_metrics("default")]


def _read(path):
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.uint8).copy()


def _tno(data_root, k=5):
    root = data_root / "IVIF-DIDFuse"
    return (_read(root / f"Test_result/TNO_IJCAI/F{k}.png"), _read(root / f"Datasets/Test_data_TNO/IR{k}.bmp"),
            _read(root / f"Datasets/Test_data_TNO/VIS{k}.bmp"))


def test_too_large_an_image_is_refused_naming_it(data_root, monkeypatch):
    images = _tno(data_root)
    height, width = images[0].shape
    plan = resolve_plan(DEFAULT)
    need, heaviest = memory_estimate(plan, height * width)
    monkeypatch.setattr(engine, "available_memory", lambda: need // 2)
    with pytest.raises(UserError) as caught:
        with JobRunner(DEFAULT, workers=1) as runner:  # the engine of `ivif-bench evaluate`, in this process
            list(runner.run([Job(0, "tno-5", lambda: images, height * width)]))
    message = str(caught.value)
    assert "image tno-5" in message and f"{width} x {height}" in message
    assert heaviest[0][0] in message and "--metrics" in message and "more memory" in message
    assert f"{need / 2**30:.1f} GB" in message and f"{need // 2 / 2**30:.1f} GB is available" in message
    # enough memory, or none known: evaluated, the values unchanged
    monkeypatch.setattr(engine, "available_memory", lambda: need)
    values, _ = image_values(plan, *images)
    monkeypatch.setattr(engine, "available_memory", lambda: None)
    again, _ = image_values(plan, *images)
    assert np.array_equal([v for v, _ in again], [v for v, _ in values], equal_nan=True)


def test_fewer_metrics_need_less_and_evaluate_tensors_is_guarded(data_root, monkeypatch):
    f, a, b = (torch.from_numpy(x).double().div(255)[None, None] for x in _tno(data_root))
    pixels = f.numel()
    light, _ = memory_estimate(resolve_plan([("EN", "default"), ("SD", "default")]), pixels)
    heavy, _ = memory_estimate(resolve_plan(DEFAULT), pixels)
    assert light < heavy / 3
    monkeypatch.setattr(engine, "available_memory", lambda: (light + heavy) // 2)
    frame = evaluate_tensors(f, a, b, metrics="EN,SD", image_ids=["x"])
    assert len(frame) == 2
    with pytest.raises(UserError, match=r"images x \("):
        evaluate_tensors(f, a, b, metrics="all", image_ids=["x"])
    check_memory(resolve_plan(DEFAULT), *f.shape[-2:], device="meta")  # off CPU: not checked


def test_available_memory_reads_proc_meminfo():
    available = engine.available_memory()
    assert available is None or 0 < available < 2**50


@pytest.mark.timeout(120)
def test_estimate_is_not_below_the_measured_peak(data_root):
    """The default suite in a fresh process on a 900 x 700 real pair (TNO 4 mirrored): peak RSS above the
    images <= the estimate (which holds its margin on top)."""
    width, height = 900, 700
    done = subprocess.run([sys.executable, "-m", "benchmarks.speed.metric_memory", "--data-root", str(data_root),
                           "--size", f"{width}x{height}", "--one", ",".join(name for name, _ in DEFAULT)],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=110)
    assert done.returncode == 0, done.stderr[-2000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])["extra_mb"] * 2**20
    need, _ = memory_estimate(resolve_plan(DEFAULT), width * height)
    assert measured <= need, (measured / 2**20, need / 2**20)
