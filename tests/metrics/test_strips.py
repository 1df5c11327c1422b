"""Qabf and SSIM / MS-SSIM computed in row strips equal the whole image bit for bit; shared work is released
after its last declared reader."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metrics.functional import _shared, qabf as qabf_module, ssim as ssim_module
from metrics.functional.piella import edge_dependent_fusion_quality, fusion_quality_index
from metrics.functional.ssim import multiscale_ssim, ssim, ssim_maps

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def pair(data_root):
    from benchmarks.speed.large_images import large_pair

    ir, vis = large_pair(str(data_root), 353, 419)  # odd sizes, across the mirror seams
    fused = ((ir.astype(np.uint16) + vis) // 2).astype(np.uint8)
    return [torch.from_numpy(x).double().div(255)[None, None] for x in (fused, ir, vis)]


def _all(pair):
    f, a, b = pair
    maps = ssim_maps(f * 255, [a * 255, b * 255])
    return [qabf_module.qabf(*pair), ssim(*pair), multiscale_ssim(*pair),
            torch.cat([m.flatten() for two in maps for m in two])]


@pytest.mark.parametrize("strip", [1, 419 * 3 + 1, 419 * 50])
def test_strips_give_the_whole_image_bit_for_bit(pair, monkeypatch, strip):
    whole = _all(pair)
    monkeypatch.setattr(qabf_module, "_STRIP_PIXELS", strip)
    monkeypatch.setattr(ssim_module, "_STRIP_PIXELS", strip)
    for got, expected in zip(_all(pair), whole):
        assert torch.equal(got, expected)


def test_release_schedule_and_release():
    plan = [ssim, fusion_quality_index, multiscale_ssim, edge_dependent_fusion_quality, len]
    assert _shared.release_schedule(plan) == [(), (), ("ssim.maps",), ("piella.window_terms",), ()]
    x = torch.zeros(1)
    with _shared.shared_work():
        _shared.shared("ssim.maps", lambda: 1, (x,))
        _shared.shared("other", lambda: 2, (x,))
        _shared.release("ssim.maps")
        assert _shared.shared("ssim.maps", lambda: 3, (x,)) == 3 and _shared.shared("other", lambda: 4, (x,)) == 2
