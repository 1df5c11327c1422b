"""Executing a plan: every (method, seed, dataset) not done yet, resumably, then the merge and the report.

The unit of work is ``(method, seed, dataset)``. For each (method, seed) the
runner gets a model (a reference rule needs none; a trainable method reuses
``--ckpt METHOD=PATH``, or the run dir's ``final.ckpt``, or is trained under
its profile config, resuming from ``last.ckpt``), then for each test set not
yet done it fuses every pair to an 8-bit PNG and evaluates it through the
metric classes (:mod:`benchmarks.run.evaluate`, ``Trainer.test``), writes the
per-image rows and finally a done marker. A killed
run started again with the same arguments skips the done units. The files:
:mod:`benchmarks.report.results`.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import torch

from benchmarks import profiles
from benchmarks.plugins import loaded_plugins
from benchmarks.provenance import collect, environment, now, read_json, seed_everything, write_json
from benchmarks.report.console import Reporter
from benchmarks.report.facts import method_facts_of, metric_facts_of
from benchmarks.report.results import OPTIONAL_COLUMNS, RESULT_COLUMNS, RunLayout, Unit
from benchmarks.run.evaluate import colour_line, colour_record, evaluate_unit, metric_device_of, metric_dtype_of
from benchmarks.run.interrupt import RunInterrupted, watch_interrupt
from benchmarks.run.merge import merge_results, report_run
from benchmarks.run.plan import MethodPlan, Plan, RunError
from benchmarks.run.train import move_aside, rank_job, read_record, recover_checkpoints, train, train_only
from benchmarks.run.weights import build_official, official_signature, weights_origin
from datamodules.download import sha256_of
from datamodules.io import atomic_write

__all__ = ["fusion_device", "run", "run_lock", "run_method_seed", "write_provenance"]


@contextlib.contextmanager
def run_lock(layout: RunLayout) -> Iterator[None]:
    """Hold ``RUN/.lock`` so two processes never write one run dir at once (released when the process dies)."""
    layout.root.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks
        yield
        return
    with open(layout.lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            raise RunError(f"{layout.root}: another ivif-bench run is writing here (pid {handle.read().strip() or '?'}); "
                           "wait for it or choose another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run(plan: Plan, reporter: Reporter | None = None) -> pd.DataFrame | None:
    """Run a plan: every (method, seed, dataset) not done yet, then results, leaderboard, plots, W&B.

    Returns:
        The leaderboard summary (``leaderboard.csv`` rows), or ``None`` on a
        non-zero rank of a multi-device training.
    """
    job = rank_job()
    if job is not None:  # a rank started by Lightning's launcher: join rank 0's training, then stop
        train_only(plan, job)
        return None
    from benchmarks.tracking import Tracker

    reporter = reporter or Reporter(plan.options.progress)
    layout, options = plan.layout, plan.options
    # microseconds: this invocation's id in provenance.json (two runs of one dir can start in the same second)
    started, clock = now("microseconds"), time.perf_counter()
    with run_lock(layout):
        tracker = Tracker(layout.root, plan.name, options.wandb)
        for method, reason in plan.skipped:
            reporter.line(f"skip method {method}: {reason}")
        colour = colour_line(plan.colour, plan.pairs, options.color, plan.metrics, options.convention)
        if colour:
            reporter.line(colour)
        write_provenance(plan, started, status="running")
        counts = {"done": 0, "skipped": 0}
        try:
            with watch_interrupt():  # Ctrl-C leaves as RunInterrupted: the command reports how to resume
                for method in plan.methods:
                    for seed in options.seeds:
                        done, skipped = run_method_seed(plan, method, seed, tracker, reporter)
                        counts["done"] += done
                        counts["skipped"] += skipped
                results = merge_results(layout, list(plan.pairs))
                summary = report_run(plan, results, tracker, reporter)
        except BaseException as stop:
            status = "interrupted" if isinstance(stop, RunInterrupted) else "failed"
            write_provenance(plan, started, status=status, clock=clock, counts=counts)
            raise
        write_provenance(plan, started, status="finished", clock=clock, counts=counts)
    reporter.line(f"finished in {time.perf_counter() - clock:.1f} s: {counts['done']} unit(s) run, "
                  f"{counts['skipped']} already done")
    return summary


def write_provenance(plan: Plan, started: str, status: str, clock: float | None = None,
                     counts: dict[str, int] | None = None) -> None:
    """Write ``RUN/provenance.json`` atomically: configs, seeds, versions, device, git commit, this invocation
    with ``status`` (running / finished / failed / interrupted), the wall time since ``clock`` (a ``time.perf_counter()``
    start) and the earlier invocations of this run dir as ``history``."""
    layout = plan.layout
    history = []
    if layout.provenance.is_file():
        try:
            previous = read_json(layout.provenance)
            history = previous.get("history", [])
            if previous.get("started") != started:
                history.append({k: previous.get(k) for k in ("argv", "started", "finished", "status", "git", "units")})
        except ValueError:  # damaged: kept beside it, never the base of the new record
            move_aside(layout.provenance)
    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(plan.options).items()}
    options["checkpoints"] = {k: str(v) for k, v in plan.options.checkpoints.items()}
    record = collect(
        seeds=plan.options.seeds,
        configs={f"{m.name}/seed{s}": plan.resolved_config(m.name, s) for m in plan.methods for s in plan.options.seeds},
        benchmark=plan.name,
        profile=plan.options.profile,
        options=options,
        data=plan.data_message,
        pairs={name: [p.pair_id for p in pairs] for name, pairs in plan.pairs.items()},
        metrics=plan.metrics,
        convention=plan.options.convention,
        skipped_methods=dict(plan.skipped),
        started=started,
        finished=now() if clock is not None else None,
        wall_time_s=None if clock is None else round(time.perf_counter() - clock, 3),
        status=status,
        units=counts,
        history=history,
        plugins=[asdict(plugin) for plugin in loaded_plugins()],
        color=_colour_provenance(plan),
    )
    write_json(layout.provenance, record)


def _colour_provenance(plan: Plan) -> dict[str, Any]:
    """``provenance.json``'s ``color``: the ``--color`` mode, the transform, the pairs fused in colour per test set."""
    from datamodules.color import COLOR_FUSION, TRANSFORM

    return {"mode": plan.options.color, "transform": TRANSFORM, "description": COLOR_FUSION,
            "colour_pairs": dict(plan.colour)}


def _unit_signature(plan: Plan, unit: Unit, checkpoint_sha: str | None) -> dict[str, Any]:
    signature = {"pair_ids": [p.pair_id for p in plan.pairs[unit.dataset]], "metrics": list(plan.metrics),
                 "convention": plan.options.convention, "checkpoint_sha256": checkpoint_sha}
    if plan.method(unit.method).official:  # released weights: the artifact and the hyper-parameters they run with
        signature["weights"] = official_signature(plan, unit.method, unit.seed)
    if plan.colour.get(unit.dataset):  # colour fusion (a gray unit's signature is as before colour existed)
        from datamodules.color import TRANSFORM

        signature["color"] = TRANSFORM
    return signature


def _pending(plan: Plan, units: list[Unit], checkpoint_sha: str | None) -> tuple[list[Unit], dict[Unit, str]]:
    """Units that still need work, and for each the reason (absent marker, changed pairs / metrics / weights)."""
    pending, reasons = [], {}
    for unit in units:
        path = plan.layout.marker(unit)
        if not path.is_file():
            pending.append(unit)
            continue
        try:
            marker = read_json(path)
        except ValueError:
            pending.append(unit)
            reasons[unit] = "unreadable marker"
            continue
        wanted = _unit_signature(plan, unit, checkpoint_sha)
        changed = [k for k, v in wanted.items() if marker.get("signature", {}).get(k) != v]
        results_file = plan.layout.root / marker.get("results_file", "")
        if changed or not results_file.is_file():
            pending.append(unit)
            reasons[unit] = f"changed {', '.join(changed)}" if changed else "results file missing"
    return pending, reasons


def run_method_seed(plan: Plan, method: MethodPlan, seed: int, tracker, reporter: Reporter) -> tuple[int, int]:
    """Obtain the model of (method, seed) and run its pending units; returns (units run, units skipped)."""
    layout = plan.layout
    units = plan.units(method.name, seed)
    if method.trainable and method.checkpoint is None:  # a damaged final / last / interrupted.ckpt is moved aside
        recover_checkpoints(layout, method.name, seed, reporter)
    known_checkpoint = method.checkpoint or (layout.final_checkpoint(method.name, seed) if method.trainable else None)
    checkpoint_sha = sha256_of(known_checkpoint) if known_checkpoint and known_checkpoint.is_file() else None
    if method.trainable and checkpoint_sha is None:
        pending, reasons = units, {}
    else:
        pending, reasons = _pending(plan, units, checkpoint_sha)
    for unit in units:
        if unit not in pending:
            reporter.line(f"skip {unit}: done ({layout.marker(unit).relative_to(layout.root)})")
        elif unit in reasons:
            reporter.line(f"redo {unit}: {reasons[unit]}")
    if not pending:
        return 0, len(units)

    wandb_file = layout.wandb_record(method.name, seed)
    run_id = read_record(wandb_file, reporter).get("id")
    wandb_run = None
    if tracker.enabled:
        run_id = run_id or tracker.new_id()
        write_json(wandb_file, {"id": run_id, "group": plan.name, "name": f"{method.name}-seed{seed}"})
        job_type = "train" if method.trainable else "pretrained" if method.official else "reference"
        wandb_run = tracker.start(f"{method.name}-seed{seed}", job_type=job_type,
                                  run_id=run_id, tags=[method.name, plan.options.profile],
                                  config={"method": method.name, "seed": seed, "profile": plan.options.profile,
                                          "benchmark": plan.name, "metrics": plan.metrics,
                                          "convention": plan.options.convention,
                                          "config": plan.resolved_config(method.name, seed)})
    exit_code = 1
    try:
        model, checkpoint = _obtain_model(plan, method, seed, wandb_run, reporter)
        checkpoint_sha = sha256_of(checkpoint) if checkpoint else None
        for unit in pending:
            _run_unit(plan, unit, model, checkpoint, checkpoint_sha, wandb_run, tracker, reporter)
        exit_code = 0
    finally:
        tracker.finish(wandb_run, exit_code)
    return len(pending), len(units) - len(pending)


def fusion_device(plan: Plan, method: str, seed: int) -> torch.device:
    """Where a method fuses: the first GPU when the run's accelerator allows one, else the CPU."""
    accelerator = plan.options.accelerator
    if accelerator is None and plan.method(method).trainable:
        accelerator = plan.resolved_config(method, seed)["trainer"].get("accelerator")
    accelerator = str(accelerator or "auto").lower()
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", 0)
    mps = getattr(torch.backends, "mps", None)
    if accelerator in ("auto", "gpu", "mps") and mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _obtain_model(plan: Plan, method: MethodPlan, seed: int, wandb_run, reporter: Reporter):
    """(model in eval mode, checkpoint path or None): reference rule, user checkpoint, finished training, or train."""
    from lightning_modules import get_method_class

    layout = plan.layout
    if method.official:  # the authors' released weights (benchmarks.run.weights)
        seed_everything(seed)
        reporter.line(f"{method.name}/seed{seed}: released weights "
                      f"({getattr(get_method_class(method.name), 'official_weights')})")
        return build_official(method.name, plan.resolved_config(method.name, seed), plan.options.data_root), None
    if not method.trainable:
        seed_everything(seed)
        config = plan.resolved_config(method.name, seed)
        return profiles.instantiate(config, plan.config_source(method.name)).model.eval(), None
    if method.checkpoint is not None:
        checkpoint, source = method.checkpoint, "user checkpoint (--ckpt)"
    else:
        checkpoint = layout.final_checkpoint(method.name, seed)
        source = "reused final.ckpt of this run dir"
        if not checkpoint.is_file():
            train(plan, method, seed, wandb_run, reporter)
            source = None
    if source is not None:
        reporter.line(f"{method.name}/seed{seed}: {source}: {checkpoint}")
        record_path = layout.training_record(method.name, seed)
        record = read_record(record_path, reporter)
        if record.get("checkpoint_sha256") != sha256_of(checkpoint):
            write_json(record_path, {**record, "method": method.name, "seed": seed, "source": source,
                                     "checkpoint": str(checkpoint), "checkpoint_sha256": sha256_of(checkpoint),
                                     "recorded": now()})
    model = get_method_class(method.name).load_from_checkpoint(checkpoint, map_location="cpu", weights_only=False)
    return model.eval(), checkpoint


def _run_unit(plan: Plan, unit: Unit, model, checkpoint: Path | None, checkpoint_sha: str | None, wandb_run,
              tracker, reporter: Reporter) -> None:
    """Fuse every pair of the unit to PNG and evaluate it (``Trainer.test``), write the rows, then the done marker."""
    from lightning_modules import get_method_class
    from metrics import get_metric_info

    layout = plan.layout
    pairs = plan.pairs[unit.dataset]
    fused_dir = layout.fused_dir(unit, plan.seed_level)
    fused_dir.mkdir(parents=True, exist_ok=True)
    wanted = {f"{p.pair_id}.png" for p in pairs}
    for stale in fused_dir.glob("*.png"):  # a previous selection of pairs of this same unit
        if stale.name not in wanted:
            stale.unlink()
    clock = time.perf_counter()
    device = fusion_device(plan, unit.method, unit.seed)
    metric_device = metric_device_of(plan.options.metric_device, device)  # "auto": the fused images stay on `device`
    rows = evaluate_unit(model, pairs, fused_dir, dataset=unit.dataset, metrics=plan.metrics,
                         convention=plan.options.convention, device=device,
                         metric_device=metric_device, progress=plan.options.progress,
                         color=bool(plan.colour.get(unit.dataset)))
    test_s = time.perf_counter() - clock
    rows.insert(0, "method", unit.method)
    rows.insert(1, "seed", unit.seed)
    results_file = layout.results_file(unit)
    with atomic_write(results_file, "w", encoding="utf-8", newline="") as handle:
        rows[RESULT_COLUMNS + list(OPTIONAL_COLUMNS)].to_csv(handle, index=False, float_format="%.17g")
    means = rows.groupby("metric", sort=False)["value"].mean()
    tracker.log_means(wandb_run, unit.dataset, means.to_dict())
    tracker.log_images(wandb_run, unit.dataset, [(p.pair_id, fused_dir / f"{p.pair_id}.png") for p in pairs[:2]])
    fused_stats = _flag_constant_images(unit, pairs, fused_dir, wandb_run, tracker, reporter)
    write_json(layout.marker(unit), {
        "method": unit.method, "seed": unit.seed, "dataset": unit.dataset,
        "signature": _unit_signature(plan, unit, checkpoint_sha),
        # what a reader needs to rank these rows, whether or not the metrics are registered where it reads them
        "metric_facts": [metric_facts_of(get_metric_info(name, plan.options.convention)) for name in plan.metrics],
        "method_facts": method_facts_of(get_method_class(unit.method)),
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "weights": weights_origin(plan, plan.method(unit.method), unit.seed, checkpoint),
        "fused_dir": str(fused_dir.relative_to(layout.root)),
        "results_file": str(results_file.relative_to(layout.root)),
        "pairs": [{"pair_id": p.pair_id, "ir_path": str(p.ir_path), "vis_path": str(p.vis_path),
                   "resize_vis": bool(getattr(p, "resize_vis", False))} for p in pairs],
        "means": {k: float(v) for k, v in means.items()},
        "fused_stats": fused_stats,
        "fusion_device": str(device), "metric_device": str(metric_device), "metric_dtype": metric_dtype_of(metric_device),
        "color": colour_record(len(rows.attrs.get("clipped", {})), plan.metrics, plan.options.convention,
                               rows.attrs.get("clipped", {})),
        "test_time_s": round(test_s, 3), "finished": now(),
        "environment": environment(),
    })
    reporter.line(f"done {unit}: {len(pairs)} pairs fused and evaluated in {test_s:.1f} s")


def _flag_constant_images(unit: Unit, pairs, fused_dir: Path, wandb_run, tracker, reporter: Reporter) -> dict:
    """Measure every fused PNG of the unit (:mod:`benchmarks.report.degenerate`); warn on screen and in W&B when
    some are constant. Returns ``{pair_id: {"min", "max", "std", "constant"}}`` for the done marker."""
    from benchmarks.report.degenerate import describe, fused_image_stats

    stats = {p.pair_id: fused_image_stats(fused_dir / f"{p.pair_id}.png") for p in pairs}
    warning = describe(unit.method, unit.seed, unit.dataset, stats)
    if warning is not None:
        reporter.line(warning)
    tracker.log_constant_images(wandb_run, unit.dataset, [pair for pair, s in stats.items() if s["constant"]],
                                len(stats))
    return stats
