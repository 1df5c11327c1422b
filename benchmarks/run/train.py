"""Training one (method, seed) under its resolved config, with Lightning, resumably and across DDP ranks.

Multi-device training (``--devices 2 --strategy ddp``) uses Lightning's own
launcher, which starts the other ranks by re-running the command line: those
ranks see ``IVIF_BENCH_TRAIN_ONLY`` (set by rank 0 around ``fit``, naming its own
pid, checked by :func:`rank_job`), train that one (method, seed) with rank 0 and
exit; rank 0 alone fuses, evaluates and writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch
import yaml

from benchmarks import profiles
from benchmarks.provenance import environment, now, seed_everything, write_json
from benchmarks.report.console import Reporter
from benchmarks.run.plan import MethodPlan, Plan, RunError
from datamodules.download import sha256_of
from datamodules.io import atomic_write

__all__ = ["TRAIN_ONLY_ENV", "checkpoint_problem", "complete_checkpoint", "move_aside", "rank_job", "read_record",
           "recover_checkpoints", "train", "train_only"]

TRAIN_ONLY_ENV = "IVIF_BENCH_TRAIN_ONLY"


class _Stamp:
    """A Lightning callback writing ``checkpoint["ivif_bench"] = {method, seed, class_path}`` into every checkpoint."""

    def __new__(cls, method: str, seed: int, class_path: str):
        from lightning.pytorch.callbacks import Callback

        class StampCallback(Callback):
            def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:  # noqa: D102
                checkpoint["ivif_bench"] = {"method": method, "seed": seed, "class_path": class_path}

        return StampCallback()


def _trainer_hook(plan: Plan, method: MethodPlan, seed: int, class_path: str, wandb_run, show_progress: bool):
    """What the runner adds to a config's ``Trainer`` arguments (as interpreted by the config interpreter):
    its checkpoints (``last.ckpt`` every N steps, ``interrupted.ckpt``, the method stamp), progress bar, logging."""

    def hook(kwargs: dict[str, Any]) -> dict[str, Any]:
        return _runner_trainer_arguments(plan, method, seed, class_path, wandb_run, show_progress, dict(kwargs))

    return hook


def _runner_trainer_arguments(plan: Plan, method: MethodPlan, seed: int, class_path: str, wandb_run,
                              show_progress: bool, kwargs: dict[str, Any]) -> dict[str, Any]:
    from lightning.pytorch.callbacks import ModelCheckpoint, OnExceptionCheckpoint, ProgressBar, RichProgressBar

    from benchmarks.tracking import Tracker

    callbacks = kwargs.pop("callbacks", None) or []
    callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
    checkpoint_dir = plan.layout.checkpoint_dir(method.name, seed)
    callbacks += [
        ModelCheckpoint(dirpath=checkpoint_dir, filename="step{step}", save_top_k=0, save_last=True,
                        every_n_train_steps=plan.options.checkpoint_every, enable_version_counter=False),
        # saved on an exception (Ctrl-C included), removed by Lightning after a clean fit
        OnExceptionCheckpoint(checkpoint_dir, filename="interrupted"),
        _Stamp(method.name, seed, class_path),
    ]
    if show_progress and not any(isinstance(c, ProgressBar) for c in callbacks):
        callbacks.append(RichProgressBar())
    kwargs["enable_progress_bar"] = bool(show_progress)  # the runner's --no-progress decides, not the file
    kwargs["enable_checkpointing"] = True
    max_steps = int(kwargs.get("max_steps") or -1)
    if max_steps > 0:  # short runs (smoke) still log their losses
        kwargs["log_every_n_steps"] = min(int(kwargs.get("log_every_n_steps") or 50), max(1, max_steps // 10))
    loggers = kwargs.pop("logger", None)
    loggers = [] if loggers in (None, True, False) else list(loggers) if isinstance(loggers, (list, tuple)) else [loggers]
    wandb_logger = Tracker.logger(wandb_run)
    if wandb_logger is not None:
        loggers.append(wandb_logger)
    return {**kwargs, "callbacks": callbacks, "logger": loggers or False}


def complete_checkpoint(path: Path) -> bool:
    """Whether ``path`` is a whole checkpoint archive: ``False`` only for a file cut short (killed while writing).

    ``torch.save`` writes a zip archive whose directory comes last, so a
    truncated file has no (or a damaged) central directory and a failing
    member CRC. Nothing else is judged here: a complete file that fails to load
    later fails loudly, and an unreadable file (permissions) raises ``OSError``.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except zipfile.BadZipFile:
        return False


# ------------------------------------------------------------------ damaged files: detected, moved aside, never read
def checkpoint_problem(path: str | os.PathLike) -> str | None:
    """What is wrong with the checkpoint file ``path`` (one phrase), or ``None`` when it loads as a checkpoint.

    Detected: a missing or empty file, a file that is not a zip archive (cut
    short: ``torch.save`` writes the archive's directory last; or overwritten
    with something else), an archive whose members fail their CRC, a payload
    that does not unpickle, and a loaded object without a ``state_dict``.

    Raises:
        RunError: the file exists but cannot be read at all (permissions): not
            damage, so it is neither judged nor moved.
    """
    path = Path(path)
    if not path.is_file():
        return "no such file"
    try:
        with open(path, "rb"):
            pass
    except OSError as err:
        raise RunError(f"{path}: cannot read it ({err.strerror}); fix its permissions") from None
    size = path.stat().st_size
    if size == 0:
        return "empty (0 bytes)"
    if not zipfile.is_zipfile(path):
        return f"not a checkpoint archive ({size} bytes without a zip directory: cut short, or overwritten)"
    if not complete_checkpoint(path):
        return "a damaged archive (a member fails its CRC check)"
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except OSError:
        raise
    except Exception as err:  # noqa: BLE001 - any unpickling failure means the payload is damaged
        first = (str(err).strip().splitlines() or [""])[0][:160]
        return f"its payload does not load ({type(err).__name__}: {first})"
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        return "not a Lightning checkpoint (no state_dict)"
    return None


def move_aside(path: Path) -> Path:
    """Rename a damaged file to ``<name>.corrupt-<YYYYmmdd-HHMMSS>`` beside it (never deleted); returns the new path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target, k = path.with_name(f"{path.name}.corrupt-{stamp}"), 1
    while target.exists():
        target, k = path.with_name(f"{path.name}.corrupt-{stamp}-{k}"), k + 1
    os.replace(path, target)
    return target


def _set_aside(path: Path, problem: str, label: str, reporter: Reporter, then: str) -> None:
    moved = move_aside(path)
    reporter.line(f"{label}: {path} is damaged ({problem}); moved aside to {moved.name} (kept, not read); {then}")


def recover_checkpoints(layout, method: str, seed: int, reporter: Reporter) -> None:
    """Before (method, seed) is obtained: move its damaged ``final``, ``last`` and ``interrupted`` checkpoints aside.

    What remains is good, so training resumes from the newest good state
    (:func:`train`) or starts again, and no record is written from a damaged file.
    """
    label = f"{method}/seed{seed}"
    for path in (layout.final_checkpoint(method, seed), layout.last_checkpoint(method, seed),
                 layout.interrupted_checkpoint(method, seed)):
        problem = checkpoint_problem(path) if path.is_file() else None
        if problem is not None:
            _set_aside(path, problem, label, reporter, "training again, from the newest good last / interrupted "
                       "checkpoint if there is one" if path.name == "final.ckpt" else "not resuming from it")


def read_record(path: Path, reporter: Reporter | None = None) -> dict[str, Any]:
    """A JSON record of the run dir (``training.json``, ``wandb.json``...): ``{}`` when absent; a damaged one
    is moved aside with a message and read as absent, so it is never the base of a new record."""
    from benchmarks.provenance import read_json

    if not path.is_file():
        return {}
    try:
        record = read_json(path)
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        return record
    except ValueError as err:
        moved = move_aside(path)
        if reporter is not None:
            reporter.line(f"{path} is damaged ({str(err).splitlines()[0][:120]}); moved aside to {moved.name}, "
                          "written again")
        return {}


def train(plan: Plan, method: MethodPlan, seed: int, wandb_run, reporter: Reporter,
           resume: Path | None | str = "auto") -> None:
    """Train (method, seed) under its resolved config; writes ``final.ckpt`` atomically (rank 0).

    ``resume="auto"`` resumes from the newest of ``last.ckpt`` / ``interrupted.ckpt`` that loads; a damaged one
    is moved aside with a message (:func:`checkpoint_problem`)."""
    layout = plan.layout
    config = plan.resolved_config(method.name, seed)
    checkpoint_dir = layout.checkpoint_dir(method.name, seed)
    child = resume != "auto"
    if not child:
        resume = None
        candidates = [layout.last_checkpoint(method.name, seed), layout.interrupted_checkpoint(method.name, seed)]
        for path in sorted((p for p in candidates if p.is_file()), key=lambda p: p.stat().st_mtime_ns, reverse=True):
            problem = checkpoint_problem(path)
            if problem is None:
                resume = path
                break
            _set_aside(path, problem, f"{method.name}/seed{seed}", reporter, "not resuming from it")
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write(layout.config_file(method.name, seed), "w", encoding="utf-8") as handle:
            yaml.safe_dump(config, handle, sort_keys=False)
        reporter.line(f"{method.name}/seed{seed}: training ({plan.options.profile} profile)"
                      + (f", resuming from {resume}" if resume else ""))
    seed_everything(seed)  # the config's seed_everything is the seed too: the interpreter seeds again, the same way
    hook = _trainer_hook(plan, method, seed, config["model"]["class_path"], wandb_run, plan.options.progress and not child)
    model, data, trainer, _ = profiles.instantiate(config, plan.config_source(method.name), trainer_hook=hook)
    environment_before = dict(os.environ)
    os.environ[TRAIN_ONLY_ENV] = json.dumps({"method": method.name, "seed": seed, "launcher_pid": os.getpid(),
                                             "resume": None if resume is None else str(resume)})
    clock, started = time.perf_counter(), now()
    partial = checkpoint_dir / ".final.ckpt.partial"
    failed = True
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*pre-optimization state.*")
            # the runner picks the checkpoint to resume from itself (resume below), never Lightning's "last"
            warnings.filterwarnings("ignore", message=r".*\.fit\(ckpt_path=None\)` was called without a model.*")
            warnings.filterwarnings("ignore", message=r'.*\.fit\(ckpt_path="last"\) is set, but there is no last.*')
            trainer.fit(model, datamodule=data, ckpt_path=None if resume is None else str(resume))
        trainer.save_checkpoint(partial)  # a collective under DDP: every rank calls it, rank 0 writes
        failed = False
    finally:
        _end_distributed(trainer, environment_before, kill_ranks=failed)
    if child:
        return
    os.replace(partial, layout.final_checkpoint(method.name, seed))
    final = layout.final_checkpoint(method.name, seed)
    read_record(layout.training_record(method.name, seed), reporter)  # a damaged earlier record is moved aside
    write_json(layout.training_record(method.name, seed), {
        "method": method.name, "seed": seed, "source": "trained", "resumed_from": None if resume is None else str(resume),
        "checkpoint": str(final), "checkpoint_sha256": sha256_of(final), "global_step": trainer.global_step,
        "epochs": trainer.current_epoch, "world_size": trainer.world_size, "strategy": type(trainer.strategy).__name__,
        "accelerator": type(trainer.accelerator).__name__, "started": started, "finished": now(),
        "train_time_s": round(time.perf_counter() - clock, 3), "environment": environment()})
    reporter.line(f"{method.name}/seed{seed}: trained {trainer.global_step} steps in "
                  f"{time.perf_counter() - clock:.1f} s on {trainer.world_size} process(es) -> {final}")


def _end_distributed(trainer, environment_before: dict[str, str], kill_ranks: bool = False) -> None:
    """After a fit: leave the process group, reap the launched ranks, restore the launcher's environment.

    Lightning's launcher sets ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_PORT``...
    in this process; restoring them lets the next method's ``Trainer`` launch
    its own ranks again. After a failed fit the other ranks are killed (they
    would wait in a collective for this one).
    """
    processes = getattr(trainer.strategy.launcher, "procs", None) or []
    if kill_ranks:
        for process in processes:
            with contextlib.suppress(Exception):
                process.kill()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    for process in processes:
        with contextlib.suppress(Exception):
            process.wait(timeout=600)
    for key in set(os.environ) - set(environment_before):
        del os.environ[key]
    for key, value in environment_before.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def rank_job() -> dict[str, Any] | None:
    """The (method, seed) this process must train with rank 0, if Lightning's launcher started it; else ``None``.

    Rank 0 sets :data:`TRAIN_ONLY_ENV` around ``fit`` with its own pid; a rank
    started by the launcher is rank 0's direct child. A value whose pid is not
    this process's parent is stale (an exported shell variable, a rank of an
    earlier run) and stops the command instead of silently turning it into a
    training-only rank.

    Raises:
        RunError: a stale or malformed value.
    """
    text = os.environ.get(TRAIN_ONLY_ENV)
    if not text:
        return None
    try:
        spec = json.loads(text)
        launcher = int(spec["launcher_pid"])
        spec["method"], spec["seed"]
    except (ValueError, KeyError, TypeError):
        raise RunError(f"${TRAIN_ONLY_ENV} holds {text[:200]!r}, not what an ivif-bench rank 0 sets; "
                       f"unset it (it is set only for the ranks Lightning's launcher starts)") from None
    if launcher != os.getppid():
        raise RunError(f"${TRAIN_ONLY_ENV} is set by process {launcher}, which did not start this one (a stale "
                       f"value, e.g. exported in the shell); unset it to run this command")
    return spec


def train_only(plan: Plan, spec: dict[str, Any]) -> None:
    """On a rank started by Lightning's launcher: train the (method, seed) rank 0 is training, then return."""
    method = next((m for m in plan.methods if m.name == spec["method"]), None)
    if method is None:
        raise RunError(f"{TRAIN_ONLY_ENV} names method {spec['method']!r}, which this command does not run")
    resume = Path(spec["resume"]) if spec.get("resume") else None
    train(plan, method, int(spec["seed"]), None, Reporter(progress=False), resume=resume)

