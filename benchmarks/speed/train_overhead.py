"""Lightning's overhead on a DIDFuse training step, against a plain PyTorch loop, in one run.

Both sides train the same DIDFuse (same initial weights) with the same Adam, on
the same batches of real ``flir_train`` center crops from the same
``FusionDataModule`` loader. A step is timed from one batch start to the next
(data loading, forward, loss, backward, optimizer step; CUDA synchronised), the
first ``--warmup`` steps of each segment are dropped, and the two sides run in
alternating segments (plain, Lightning, plain, Lightning, ...) so that drifting
machine load hits both alike. The Lightning side is a ``Trainer`` with
``enable_progress_bar=False, logger=False, enable_checkpointing=False,
enable_model_summary=False`` (what a benchmark run does not need); the module
still calls ``self.log`` for its six loss terms, as in every run.

  python benchmarks/speed/train_overhead.py --data-root ../shared/data
  python benchmarks/speed/train_overhead.py --data-root ../shared/data --batch-size 24 --crop 128 --device cuda

Prints the median step time of each side, wall clock and process CPU time, and
the overhead (Lightning / plain - 1); the target is at most 5 %. On a shared,
loaded machine the wall clock mostly measures the other processes; the CPU
time (all threads of this process) is then the figure to read.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import statistics
import sys
import time
import warnings

import lightning as L
import torch

from datamodules import FusionDataModule
from lightning_modules.didfuse import DIDFuse


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _now(device: torch.device) -> tuple[float, float]:
    """(wall clock, process CPU time) in seconds, after the device's queued work."""
    _sync(device)
    return time.perf_counter(), time.process_time()


def _deltas(stamps: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(b[0] - a[0], b[1] - a[1]) for a, b in zip(stamps, stamps[1:])]


def plain_steps(model: DIDFuse, optimizer: torch.optim.Optimizer, loader, steps: int,
                device: torch.device) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each step of a hand-written loop: fetch, move, loss, backward, step."""
    model.train()
    batches = (batch for _ in itertools.count() for batch in loader)  # re-iterates: real loading every epoch
    starts = []
    for _ in range(steps + 1):
        starts.append(_now(device))
        batch = next(batches)
        ir, vis = batch["ir"].to(device), batch["vis"].to(device)
        loss = model.compute_loss(ir, vis)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return _deltas(starts)


class _StepTimer(L.Callback):
    """Times from one ``on_train_batch_start`` to the next."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.starts = device, []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.starts.append(_now(self.device))

    def times(self) -> list[tuple[float, float]]:
        return _deltas(self.starts)


def lightning_steps(model: DIDFuse, datamodule: FusionDataModule, steps: int, device: torch.device,
                    state: dict | None) -> tuple[list[tuple[float, float]], dict]:
    """(wall, CPU) seconds of each step through ``Trainer.fit`` (``steps + 1`` batches); returns the optimizer state too."""
    timer = _StepTimer(device)
    trainer = L.Trainer(max_steps=steps + 1, accelerator=device.type, devices=1, callbacks=[timer],
                        enable_progress_bar=False, logger=False, enable_checkpointing=False,
                        enable_model_summary=False, num_sanity_val_steps=0)

    class _Resume(L.Callback):  # carry Adam's state across segments, as the plain loop does
        def on_train_start(self, trainer, pl_module) -> None:
            if state is not None:
                trainer.optimizers[0].load_state_dict(state)

    trainer.callbacks.append(_Resume())
    trainer.fit(model, datamodule=datamodule)
    return timer.times(), trainer.optimizers[0].state_dict()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None, help="data root (default: $IVIF_BENCH_DATA, else the user cache dir)")
    parser.add_argument("--batch-size", type=int, default=8, help="pairs per batch (paper: 24)")
    parser.add_argument("--crop", type=int, default=64, help="center-crop size (paper: 128)")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per segment")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps at the start of each segment")
    parser.add_argument("--rounds", type=int, default=6, help="alternating (plain, Lightning) segment pairs")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*(val_dataloader|does not have many workers|LeafSpec).*")
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no GPU / TPU / tip banners per segment

    device = torch.device(args.device)
    L.seed_everything(0, verbose=False)
    datamodule = FusionDataModule(train_dataset="flir_train", test_datasets=(), data_root=args.data_root,
                                  train_mode="center_crop", crop_size=args.crop, batch_size=args.batch_size)
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    plain_model = DIDFuse().to(device)
    lightning_model = DIDFuse()
    lightning_model.load_state_dict(plain_model.state_dict())
    optimizer = torch.optim.Adam(plain_model.parameters(), lr=plain_model.hparams.lr)

    plain, lightning, state = [], [], None
    for _ in range(args.rounds):
        plain += plain_steps(plain_model, optimizer, loader, args.warmup + args.steps, device)[args.warmup:]
        times, state = lightning_steps(lightning_model, datamodule, args.warmup + args.steps, device, state)
        lightning += times[args.warmup:]

    print(f"DIDFuse training step, batch {args.batch_size} x {args.crop} x {args.crop} (IR + VIS), device {device}, "
          f"torch threads {torch.get_num_threads()}; {args.rounds} x {args.steps} timed steps per side")
    print(f"{'median per step':<20}{'wall ms':>12}{'CPU ms':>12}")
    medians = {}
    for name, times in (("plain PyTorch loop", plain), ("Lightning Trainer", lightning)):
        medians[name] = [statistics.median(t[i] for t in times) for i in (0, 1)]
        print(f"{name:<20}{1000 * medians[name][0]:>12.1f}{1000 * medians[name][1]:>12.1f}")
    wall, cpu = (medians["Lightning Trainer"][i] / medians["plain PyTorch loop"][i] - 1 for i in (0, 1))
    print(f"{'overhead':<20}{100 * wall:>+11.1f}%{100 * cpu:>+11.1f}%   (target <= 5 %; on a loaded machine "
          "the CPU-time figure is the reliable one)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
