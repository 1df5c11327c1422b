"""Fixtures of the method tests: one torch thread per module, centre crops of real flir_train pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import pytest
import torch

from datamodules.io import read_image, to_tensor

FLIR_TRAIN = Path("IVIF-DIDFuse/Datasets/Train_data_FLIR")


@pytest.fixture(autouse=True, scope="module")
def _one_thread_per_module(one_thread):
    yield


@pytest.fixture(scope="session")
def flir_train_crops(data_root) -> Callable[[Sequence[int], int], tuple[torch.Tensor, torch.Tensor]]:
    """``crops(ids, size)``: IR and VIS centre crops of flir_train pairs ``ids``, each N x 1 x size x size in [0, 1]."""

    def crop(path: Path, size: int) -> torch.Tensor:
        image = to_tensor(read_image(path))
        top, left = (image.shape[-2] - size) // 2, (image.shape[-1] - size) // 2
        return image[:, top:top + size, left:left + size]

    def crops(ids: Sequence[int], size: int) -> tuple[torch.Tensor, torch.Tensor]:
        root = data_root / FLIR_TRAIN
        ir = torch.stack([crop(root / "IR" / "IR" / f"IR{k}.jpg", size) for k in ids])
        vis = torch.stack([crop(root / "VIS" / "VIS" / f"VIS{k}.jpg", size) for k in ids])
        return ir, vis

    return crops
