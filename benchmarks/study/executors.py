"""Running a study's seeds: serially in this process, or as Ray tasks; the study's record of invocations."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import torch

from benchmarks.provenance import now, read_json, write_json
from benchmarks.report.console import Reporter
from benchmarks.run.execute import run, run_lock, run_method_seed, write_provenance
from benchmarks.run.merge import merge_results
from benchmarks.run.train import rank_job
from benchmarks.study.plan import STUDY_FILE, StudyError, StudyOptions, StudyPlan, plan_study, seed_list
from benchmarks.study.statistics import report_study
from datamodules.io import atomic_write

__all__ = ["run_study"]


@contextlib.contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    """Run with ``count`` torch intra-op threads (CPU float results depend on it), restoring the previous count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(int(count))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _seed_done(study: StudyPlan, seed: int) -> bool:
    layout = study.plan.layout
    return all(layout.marker(unit).is_file() and layout.results_file(unit).is_file()
               for unit in study.plan.units(study.options.method, seed))


def _seed_outputs(study: StudyPlan, seed: int) -> list[dict[str, Any]]:
    """The done markers and results CSV text of one seed's units (what a Ray task returns to the driver)."""
    layout = study.plan.layout
    outputs = []
    for unit in study.plan.units(study.options.method, seed):
        outputs.append({"marker_path": str(layout.marker(unit).relative_to(layout.root)),
                        "marker": read_json(layout.marker(unit)),
                        "results_path": str(layout.results_file(unit).relative_to(layout.root)),
                        "results": layout.results_file(unit).read_text(encoding="utf-8")})
    return outputs


def _write_back(root: Path, outputs: list[dict[str, Any]]) -> int:
    """Write the units a Ray task returned that ``root`` lacks (a task on a node without the shared dir); returns how many."""
    written = 0
    for output in outputs:
        marker = root / output["marker_path"]
        if marker.is_file() and (root / output["results_path"]).is_file():
            continue
        with atomic_write(root / output["results_path"], "w", encoding="utf-8", newline="") as handle:
            handle.write(output["results"])
        write_json(marker, output["marker"])  # the marker last, as the runner does
        written += 1
    return written


def _run_seed(study: StudyPlan, seed: int, tracker, reporter) -> float:
    """Train, fuse and evaluate one seed under the study's thread count; returns its wall time in s."""
    clock = time.perf_counter()
    with _torch_threads(study.options.cpus_per_run):
        run_method_seed(study.plan, study.method, seed, tracker, reporter)
    return time.perf_counter() - clock


def _ray_seed_task(options: StudyOptions, seed: int) -> dict[str, Any]:
    """A Ray task: one seed of the study, on whatever node Ray chose; returns its units' markers and rows."""
    from benchmarks.tracking import Tracker

    study = plan_study(options)
    tracker = Tracker(study.root, study.plan.name, study.options.wandb)
    seconds = _run_seed(study, seed, tracker, Reporter(progress=False))
    import socket

    return {"seed": seed, "seconds": seconds, "host": socket.gethostname(), "outputs": _seed_outputs(study, seed)}


def _execute_ray(study: StudyPlan, pending: list[int], reporter) -> dict[int, float]:
    """Run the pending seeds as Ray tasks; returns ``{seed: wall seconds}``."""
    try:
        import ray
    except ImportError:
        raise StudyError("--executor ray needs Ray: pip install 'ivif-bench[cluster]' (or: pip install 'ray[default]')") from None
    options = study.options
    started_here = not ray.is_initialized()
    if started_here:
        if options.ray_address:
            ray.init(address=options.ray_address, log_to_driver=False)
        else:
            ray.init(num_cpus=options.ray_num_cpus, include_dashboard=False, log_to_driver=False)
    resources = ray.cluster_resources()
    if resources.get("CPU", 0) < options.cpus_per_run or resources.get("GPU", 0) < (options.gpus_per_run or 0):
        if started_here:
            ray.shutdown()
        raise StudyError(f"the Ray cluster has {resources.get('CPU', 0):g} CPU(s) and {resources.get('GPU', 0):g} "
                         f"GPU(s); a run asks for {options.cpus_per_run} CPU(s) and {options.gpus_per_run:g} GPU(s) "
                         "(--cpus-per-run / --gpus-per-run)")
    # a task killed with its node is retried by Ray; a retried seed resumes from its files like a restarted study
    task = ray.remote(num_cpus=options.cpus_per_run, num_gpus=options.gpus_per_run or 0)(_ray_seed_task)
    reporter.line(f"ray: {len(pending)} seed(s) as tasks of {options.cpus_per_run} CPU(s) / {options.gpus_per_run:g} "
                  f"GPU(s) each on {resources.get('CPU', 0):g} CPU(s), {resources.get('GPU', 0):g} GPU(s)")
    times: dict[int, float] = {}
    failures: list[tuple[int, BaseException]] = []
    try:
        refs = {task.remote(options, seed): seed for seed in pending}
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            seed = refs.pop(done[0])
            try:
                result = ray.get(done[0])
            except Exception as err:  # noqa: BLE001 - a failed seed: the others go on, then the study reports it
                failures.append((seed, err))
                reporter.line(f"{options.method}/seed{seed}: failed ({str(err).strip().splitlines()[-1][:300]})")
                continue
            written = _write_back(study.root, result["outputs"])
            times[seed] = result["seconds"]
            reporter.line(f"{options.method}/seed{seed}: done on {result['host']} in {result['seconds']:.1f} s"
                          + (f" ({written} unit(s) written back here)" if written else ""))
    finally:
        if started_here:
            ray.shutdown()
    if failures:
        seed, err = failures[0]
        last = str(err).strip().splitlines()[-1][:400]
        raise StudyError(f"{len(failures)} seed(s) failed ({', '.join(str(s) for s, _ in failures)}); first, "
                         f"seed {seed}: {last}; start the study again to retry them")
    return times


def run_study(study: StudyPlan, reporter=None) -> pd.DataFrame | None:
    """Run the seeds of ``study`` not done yet, merge the results, and report when every seed is there.

    Returns:
        The report (``repro_report.csv`` rows), or ``None`` for a shard (merge
        the shard dirs with :func:`merge_studies`) or on a non-zero rank of a
        multi-device training.
    """
    from benchmarks.tracking import Tracker

    if rank_job() is not None:  # a rank started by Lightning's launcher: join rank 0's training
        run(study.plan)
        return None
    reporter = reporter or Reporter(study.options.progress)
    options, layout = study.options, study.plan.layout
    # microseconds: this invocation's id in provenance.json (two runs of one dir can start in the same second)
    started, clock = now("microseconds"), time.perf_counter()
    with run_lock(layout):
        tracker = Tracker(layout.root, study.plan.name, options.wandb)
        record = _start_record(study, started)
        write_provenance(study.plan, started, status="running")
        done = [s for s in study.shard_seeds if _seed_done(study, s)]
        pending = [s for s in study.shard_seeds if s not in done]
        if done:
            reporter.line(f"skip seed(s) {seed_list(done)}: done")
        times: dict[int, float] = {}
        try:
            if pending and options.executor == "ray":
                times = _execute_ray(study, pending, reporter)
            else:
                for seed in pending:
                    times[seed] = _run_seed(study, seed, tracker, reporter)
                    reporter.line(f"{options.method}/seed{seed}: done in {times[seed]:.1f} s "
                                  f"({len(times)}/{len(pending)} of this invocation)")
            results = merge_results(layout, study.datasets)
        except BaseException:
            write_provenance(study.plan, started, status="failed", clock=clock)
            _finish_record(study, record, times, clock, "failed")
            raise
        write_provenance(study.plan, started, status="finished", clock=clock,
                                 counts={"done": len(pending), "skipped": len(done)})
        _finish_record(study, record, times, clock, "finished")
        reporter.line(f"{len(pending)} seed(s) run, {len(done)} already done, in {time.perf_counter() - clock:.1f} s")
        if options.shard[1] > 1:
            reporter.line(f"shard {options.shard[0]}/{options.shard[1]} done: seeds {seed_list(study.shard_seeds)} "
                          f"in {layout.root}; when every shard is done: ivif-bench repro-merge SHARD_DIR... --out DIR")
            return None
        results = results[(results["method"] == options.method) & results["seed"].isin(study.seeds)]
        return report_study(layout.root, results, options.method, study.seeds, competitors=options.competitors,
                            title=f"Reproducibility of {options.method}: {study.plan.name}", tracker=tracker,
                            wandb_config=study.definition(), reporter=reporter)


def _start_record(study: StudyPlan, started: str) -> dict[str, Any]:
    path = study.root / STUDY_FILE
    record = {"kind": "ivif-bench repro", "created": started, **study.definition(), "invocations": [], "seed_times_s": {}}
    if path.is_file():
        stored = read_json(path)
        record.update(created=stored.get("created", started), invocations=stored.get("invocations", []),
                      seed_times_s=stored.get("seed_times_s", {}))
    record["invocations"].append({"argv": list(study.options.argv or sys.argv), "executor": study.options.executor,
                                  "started": started, "status": "running", "seeds_run": []})
    write_json(path, record)
    return record


def _finish_record(study: StudyPlan, record: dict[str, Any], times: dict[int, float], clock: float, status: str) -> None:
    record["invocations"][-1].update(status=status, finished=now(), wall_time_s=round(time.perf_counter() - clock, 3),
                                     seeds_run=sorted(times))
    record["seed_times_s"].update({str(seed): round(seconds, 3) for seed, seconds in times.items()})
    write_json(study.root / STUDY_FILE, record)

