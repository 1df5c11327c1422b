"""Shared fixtures: the real data root beside the checkout, W&B offline in a temp dir."""

from __future__ import annotations

import os
from pathlib import Path

# Before torch loads OpenMP: idle OpenMP threads sleep instead of spinning, so that small torch ops stay fast
# when other processes (a DDP test's workers, a shared CI machine) compete for the two cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("IVIF_BENCH_TEST_DATA", REPO_ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def data_root() -> Path:
    """``../shared/data``: the real datasets, read in place (never copied into the repo)."""
    if not (SHARED_DATA / "IVIF-DIDFuse").is_dir():
        pytest.fail(f"the shared data root {SHARED_DATA} is missing; tests read real images from it")
    return SHARED_DATA


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a whole test module (``pytestmark = pytest.mark.usefixtures("one_thread")``):
    on a small shared CPU, two OpenMP threads wait on each other and small ops run up to ~10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _wandb_offline(tmp_path_factory, monkeypatch):
    """Every test runs W&B offline with its files in a temporary folder."""
    wandb_dir = tmp_path_factory.getbasetemp() / "wandb"
    wandb_dir.mkdir(exist_ok=True)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(wandb_dir))
    monkeypatch.setenv("WANDB_SILENT", "true")
