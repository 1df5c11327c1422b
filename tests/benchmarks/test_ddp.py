"""Scale-out on CPU: the runner trains with strategy=ddp on 2 processes (gloo); metric states sync across processes."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from datamodules.datasets import load_pairs, read_pair
from datamodules.io import to_tensor
from metrics import create_collection

REPO = Path(__file__).resolve().parents[2]
METRICS = ["EN", "SD", "SF"]


def test_runner_trains_didfuse_on_two_ddp_processes(tmp_path, data_root):
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "benchmarks.cli", "run", "--methods", "didfuse", "--profile", "smoke",
               "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--datasets", "sample_tno",
               "--limit-pairs", "1", "--metrics", "EN", "--max-steps", "1", "--data-root", str(data_root),
               "--out", str(out), "--wandb", "disabled", "--no-plots", "--no-progress"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=420)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    training = json.loads((out / "units" / "didfuse" / "seed0" / "training.json").read_text())
    assert training["world_size"] == 2 and training["strategy"] == "DDPStrategy" and training["global_step"] == 1
    assert "GLOBAL_RANK: 1" in done.stdout + done.stderr  # the second rank really ran
    assert done.stdout.count("done didfuse/seed0/sample_tno") == 1  # only rank 0 fuses, evaluates and writes
    assert done.stdout.splitlines()[0].startswith("data: sample_tno")
    results = pd.read_csv(out / "results.csv", dtype={"image": str})
    assert sorted(results.method.unique()) == ["average", "didfuse", "max"] and len(results) == 3
    leftovers = subprocess.run(["pgrep", "-f", str(out)], capture_output=True, text=True).stdout.split()
    assert not leftovers, f"rank processes left running: {leftovers}"


def _free_port() -> int:
    with socket.socket() as handle:
        handle.bind(("127.0.0.1", 0))
        return handle.getsockname()[1]


def _rank(rank: int, world_size: int, port: int, folder: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        pair = load_pairs("sample_tno")[rank]
        ir, vis = (to_tensor(image).unsqueeze(0) for image in read_pair(pair))
        collection = create_collection(METRICS)
        collection.update(torch.maximum(ir, vis), ir, vis)
        means = {name: float(value) for name, value in collection.compute().items()}
        per_image = {}
        for name in METRICS:  # per-image values of every process: the cat state, synced
            with collection[name].sync_context():
                per_image[name] = collection[name].per_image().tolist()
        Path(folder, f"rank{rank}.json").write_text(json.dumps({"means": means, "per_image": per_image}))
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_metric_states_sync_across_two_processes(tmp_path):
    mp.start_processes(_rank, args=(2, _free_port(), str(tmp_path)), nprocs=2, start_method="fork")
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    single = create_collection(METRICS)
    for pair in load_pairs("sample_tno")[:2]:
        ir, vis = (to_tensor(image).unsqueeze(0) for image in read_pair(pair))
        single.update(torch.maximum(ir, vis), ir, vis)
    expected = {name: float(value) for name, value in single.compute().items()}
    for rank in ranks:  # every process ends with the values of both: one pass over both images
        assert rank["means"] == pytest.approx(expected, rel=1e-12)
        for name in METRICS:
            assert rank["per_image"][name] == pytest.approx(single[name].per_image().tolist(), rel=1e-12)
