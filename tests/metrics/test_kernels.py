"""The compiled kernels (numba) give the torch code's values bit for bit, on a real TNO pair."""

from __future__ import annotations

import pytest
import torch

from datamodules.io import read_image
from metrics import get_metric_info, list_conventions, list_metrics
from metrics.functional import _kernels
from metrics.functional._shared import shared_work

pytestmark = pytest.mark.usefixtures("one_thread")

needs_numba = pytest.mark.skipif(not _kernels.available(), reason="numba is not installed (the torch code runs)")


@pytest.fixture(scope="module")
def pair(data_root):
    """TNO pair 1 (768 x 576), a 176 x 200 crop: large enough for MS-SSIM's 5 scales and several FMI blocks."""
    tno = data_root / "IVIF-DIDFuse"
    paths = (tno / "Test_result" / "TNO_IJCAI" / "F1.png", tno / "Datasets" / "Test_data_TNO" / "IR1.bmp",
             tno / "Datasets" / "Test_data_TNO" / "VIS1.bmp")
    return [torch.from_numpy(read_image(p)[200:376, 300:500].copy()).double().div(255).view(1, 1, 176, 200)
            for p in paths]


def _values(images) -> dict:
    out = {}
    for convention in list_conventions():
        for name in list_metrics(convention):
            info = get_metric_info(name, convention)
            with torch.no_grad():
                out[(name, convention)] = info.functional(*images, **info.options)
    return out


@needs_numba
def test_compiled_and_torch_paths_agree_bit_for_bit(pair, monkeypatch):
    compiled = _values(pair)
    with shared_work():  # the engine's sharing of work between metrics changes nothing either
        shared = _values(pair)
    monkeypatch.setattr(_kernels, "available", lambda: False)
    plain = _values(pair)
    for key, value in plain.items():
        assert torch.equal(compiled[key], value) or (compiled[key].isnan().all() and value.isnan().all()), key
        assert torch.equal(shared[key], value) or (shared[key].isnan().all() and value.isnan().all()), key


@needs_numba
def test_kernel_checks_torch_fma():
    """The kernels' fused multiply-add is torch's add_(alpha=), or they are not used."""
    x = torch.rand(64, dtype=torch.float64)
    out = torch.empty(1, 1, 1, 62, dtype=torch.float64)
    _kernels.separable_valid(x.view(1, 1, 1, 64), [1.0], [0.3, 0.0, 0.7], 1, out)
    assert torch.equal(out.flatten(), (x[:62] * 0.3).add_(x[2:], alpha=0.7))
