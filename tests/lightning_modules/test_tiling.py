"""Receptive fields and tiled fusion: each method's stated radius bounds its measured dependencies, and tiles
carrying that margin give the untiled result, on real images; methods with per-image statistics are refused."""

from __future__ import annotations

import pytest
import torch

from datamodules import load_pairs, read_pair
from datamodules.io import quantize_8bit, to_tensor
from lightning_modules import create_method, list_methods
from lightning_modules.base import ImageTooLargeError, fuse_tiled
from lightning_modules.didfuse import DIDFuse
from lightning_modules.ifcnn import IFCNN

SMALL = {"ataman_akar": dict(base_channels=32)}
MEASURED = {"average": 0, "max": 0, "ataman_akar": 94, "didfuse": 6, "densefuse": 8, "normfuse": 13, "rescat": 11,
            "fusiongan": 4, "two_layer_gan": 8, "ifcnn": 5}  # gradient support radius, default fusion rule  # the same layers at half the width: the same receptive field
VARIANTS = [(name, {}) for name in list_methods()] + [
    ("didfuse", {"fusion_strategy": "l1_norm"}), ("densefuse", {"fusion_strategy": "l1_norm"}),
    ("normfuse", {"fusion_rule": "l1_norm"}), ("rescat", {"fusion_rule": "l1_norm"})]


def _model(name: str, data_root, **kwargs):
    if name == "didfuse":  # the authors' weights: a real network
        return DIDFuse.from_data_root(data_root, **kwargs)
    if name == "ifcnn":
        return IFCNN.from_official(data_root=data_root, **kwargs)
    model = create_method(name, **{**SMALL.get(name, {}), **kwargs})
    if name == "densefuse":  # the authors' PyTorch weights (random ones saturate the clamp: no gradient)
        path = data_root / "densefuse-pytorch/models/densefuse_gray.model"
        model.net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


@pytest.fixture(scope="module")
def real_pair(data_root):
    ir, vis = read_pair(load_pairs("tno", data_root, ids="4")[0])  # 768 x 576 (W x H)
    return to_tensor(ir)[None], to_tensor(vis)[None]


def _measured_radius(model, ir: torch.Tensor, vis: torch.Tensor, points) -> int:
    """Largest distance (Chebyshev) from an output pixel to an input pixel its value depends on (gradient support)."""
    ir, vis = ir.clone().requires_grad_(True), vis.clone().requires_grad_(True)
    if isinstance(model, IFCNN):  # its fuse() truncates to uint8 (no gradient): the network before that, pixel-wise
        fused = model.net(vis.expand(-1, 3, -1, -1), ir.expand(-1, 3, -1, -1))
    else:
        fused = model.fuse(ir, vis)
    radius = 0
    for y, x in points:
        ir.grad = vis.grad = None
        fused[0, 0, y, x].backward(retain_graph=True)
        for grad in (ir.grad, vis.grad):
            where = (grad[0, 0] != 0).nonzero()
            if len(where):
                radius = max(radius, int((where - torch.tensor([y, x])).abs().max()))
    return radius


@pytest.mark.parametrize("name, kwargs", VARIANTS, ids=[f"{n}-{'-'.join(map(str, k.values())) or 'default'}"
                                                        for n, k in VARIANTS])
def test_receptive_field_bounds_the_measured_dependencies(name, kwargs, real_pair, data_root):
    model = _model(name, data_root, **kwargs)
    ir, vis = real_pair
    if name == "ataman_akar":  # two alignments to the 32-pixel grid: the cell's first and last pixel
        ir, vis, points = ir[..., :288, :288], vis[..., :288, :288], [(128, 128), (159, 159)]
    else:
        ir, vis, points = ir[..., 100:161, 200:261], vis[..., 100:161, 200:261], [(30, 30)]
    measured = _measured_radius(model, ir, vis, points)
    # the exact radius, derived layer by layer in each class's comment; l1_norm's 3 x 3 box adds one pixel,
    # and the stated receptive_field is the largest over a class's fusion rules
    assert measured == MEASURED[name] + (1 if kwargs else 0) <= model.receptive_field
    assert model.receptive_field == MEASURED[name] + (1 if name in ("didfuse", "densefuse", "normfuse", "rescat") else 0)


@pytest.mark.parametrize("name", list_methods())
def test_tiles_with_the_receptive_field_margin_give_the_untiled_result(name, real_pair, data_root):
    model = _model(name, data_root)
    ir, vis = real_pair
    size = (200, 264) if name == "ataman_akar" else (97, 131)
    ir, vis = ir[..., 13:13 + size[0], 7:7 + size[1]], vis[..., 13:13 + size[0], 7:7 + size[1]]
    tile = 64 if name == "ataman_akar" else 40
    with torch.no_grad():
        whole = model.fuse(ir, vis)
        tiled = fuse_tiled(model.fuse, ir, vis, halo=model.receptive_field, tile=tile, multiple=model.tile_multiple)
        large = model.fuse_large(ir, vis, max_pixels=1000, tile=tile)  # what test / predict call
        short = fuse_tiled(model.fuse, ir, vis, halo=max(0, model.receptive_field - max(3, model.tile_multiple)), tile=tile,
                           multiple=model.tile_multiple)
    # the same function: float differences of a convolution library's summation order only (<= 1e-6 seen)
    assert (tiled - whole).abs().max() <= 1e-5 and torch.equal(large, tiled)
    assert torch.equal(quantize_8bit(tiled), quantize_8bit(whole))  # the 8-bit fused image is identical
    if name in ("didfuse", "densefuse"):  # real weights: a margin short of the field changes pixels at the seams
        assert (short - whole).abs().max() > 1e-5


def test_fuse_large_refuses_what_cannot_be_tiled_before_fusing(real_pair):
    ir, vis = (image[..., :200, :300] for image in real_pair)
    gan = create_method("fusiongan", fuse_normalization="batch", generator_widths=(8, 8, 8, 8)).eval()
    assert gan.receptive_field is None and create_method("fusiongan").receptive_field == 4
    with pytest.raises(ImageTooLargeError, match=r"300 x 200 image \(0.06 Mpx\) is larger than the 0.05 Mpx fused "
                                                 r"whole \(max_pixels\), and it cannot be fused in tiles: FusionGAN has "
                                                 r"no receptive_field.*raise max_pixels"):
        gan.fuse_large(ir, vis, max_pixels=50_000)
    with torch.no_grad():
        assert gan.fuse_large(ir, vis).shape == ir.shape  # small enough: fused whole
    didfuse = create_method("didfuse").train()
    with pytest.raises(ImageTooLargeError, match="training mode: BatchNorm normalises with the statistics"):
        didfuse.fuse_large(ir, vis, max_pixels=1000)
