"""Metric objects: values invariant to batch composition, two halves == one pass, and DDP (gloo, 2 CPU
processes) == one pass."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from datamodules.io import read_image
from metrics import create_collection, get_metric, get_metric_info

OURS = ("EN", "MI", "SD", "SF", "AG", "Qabf", "SCD", "SSIM", "MS_SSIM", "CC", "MSE", "PSNR")
PAIR_IDS = (5, 8, 33, 36)
SIZE = 176  # the smallest crop that every metric (MS_SSIM needs 161) accepts


@pytest.fixture(scope="module")
def batch(data_root):
    """fused, ir, vis: 4 x 1 x 176 x 176 float64 centre crops of real TNO pairs and DIDFuse outputs."""
    tno = data_root / "IVIF-DIDFuse" / "Datasets" / "Test_data_TNO"
    fused = data_root / "IVIF-DIDFuse" / "Test_result" / "TNO_IJCAI"

    def crop(path):
        image = read_image(path)
        top, left = (image.shape[0] - SIZE) // 2, (image.shape[1] - SIZE) // 2
        return torch.from_numpy(np.ascontiguousarray(image[top:top + SIZE, left:left + SIZE])).double() / 255

    stacks = [[crop(fused / f"F{k}.png"), crop(tno / f"IR{k}.bmp"), crop(tno / f"VIS{k}.bmp")] for k in PAIR_IDS]
    return tuple(torch.stack([s[i] for s in stacks]).unsqueeze(1) for i in range(3))


@pytest.mark.filterwarnings("ignore:MS_SSIM:RuntimeWarning")
@pytest.mark.parametrize("name", OURS)
def test_values_do_not_depend_on_batch_composition(name, batch):
    functional = get_metric_info(name).functional
    together = functional(*batch)
    one_by_one = torch.cat([functional(*(x[i:i + 1] for x in batch)) for i in range(batch[0].shape[0])])
    reordered = functional(*(x.flip(0) for x in batch)).flip(0)
    assert together.shape == (4,)
    torch.testing.assert_close(together, one_by_one, rtol=1e-12, atol=0, equal_nan=True)
    torch.testing.assert_close(together, reordered, rtol=1e-12, atol=0, equal_nan=True)


@pytest.mark.parametrize("name", ["EN", "MI", "Qabf", "SSIM"])
def test_two_halves_equal_one_pass(name, batch):
    one = get_metric(name)
    one.update(*batch)
    halves = get_metric(name)
    halves.update(*(x[:1] for x in batch))
    halves.update(*(x[1:] for x in batch))
    torch.testing.assert_close(halves.per_image(), one.per_image(), rtol=1e-12, atol=0)
    torch.testing.assert_close(halves.compute(), one.compute(), rtol=1e-12, atol=0)
    assert one.compute().item() == pytest.approx(one.per_image().mean().item())
    one.reset()
    assert one.per_image().numel() == 0


DDP_METRICS = ("EN", "MI", "SSIM", "Qabf")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, port: int, batch, out_path: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        torch.set_num_threads(1)
        collection = create_collection(list(DDP_METRICS))
        half = batch[0].shape[0] // 2
        collection.update(*(x[rank * half:(rank + 1) * half] for x in batch))
        values = {name: v.item() for name, v in collection.compute().items()}
        per_image = {}
        for name, metric in collection.items():
            with metric.sync_context():
                per_image[name] = metric.per_image().tolist()
        if rank == 0:
            torch.save({"values": values, "per_image": per_image}, out_path)
    finally:
        dist.destroy_process_group()


def test_ddp_gloo_two_processes_equal_one_pass(batch, tmp_path):
    out = tmp_path / "ddp.pt"
    # fork (Lightning's "ddp_fork"): the children reuse the loaded modules instead of importing them again
    mp.start_processes(_ddp_worker, args=(_free_port(), batch, str(out)), nprocs=2, join=True, start_method="fork")
    result = torch.load(out)
    single = create_collection(list(DDP_METRICS))
    single.update(*batch)
    for name, value in single.compute().items():
        assert result["values"][name] == pytest.approx(value.item(), rel=1e-12), name
        # after sync every process holds all values, rank 0's half first
        assert result["per_image"][name] == pytest.approx(single[name].per_image().tolist(), rel=1e-12)
