"""Weights & Biases tracking of a benchmark run.

One W&B run per (method, seed), all in one group named after the benchmark:
Lightning's ``WandbLogger`` records the resolved config and the training
losses, and the ``wandb`` API adds the per-dataset metric means, a few fused
images, and, in one more run of the group (job type ``leaderboard``), the
leaderboard as a ``wandb.Table`` and the comparison plots.

Modes: ``online`` (needs an API key: ``wandb login`` or ``WANDB_API_KEY``),
``offline`` (files under ``RUN/wandb/offline-run-*``; upload them later with
``wandb sync RUN/wandb/offline-run-*``), ``disabled``. ``auto`` follows
``WANDB_MODE`` when set, else goes online when an API key is configured and
offline otherwise.

:func:`read_offline_run` reads what an offline run holds (config, summary,
logged keys), to check a run before syncing it.
"""

from __future__ import annotations

import json
import netrc
import os
import struct
import warnings
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping
from urllib.parse import urlparse

from datamodules.errors import DataNotFoundError, UserError

__all__ = ["MODES", "Tracker", "has_api_key", "read_offline_run", "resolve_mode"]

MODES = ("auto", "online", "offline", "disabled")
PROJECT = "ivif-bench"


def has_api_key() -> bool:
    """Whether W&B has an API key to go online with (``WANDB_API_KEY`` or a netrc entry for the W&B host)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def resolve_mode(requested: str | None = "auto") -> str:
    """``online``, ``offline`` or ``disabled`` for a requested mode (see the module docstring).

    Raises:
        ValueError: a mode other than :data:`MODES`.
    """
    requested = (requested or "auto").lower()
    if requested not in MODES:
        raise UserError(f"--wandb must be one of {', '.join(MODES)}; got {requested!r}")
    if requested != "auto":
        return requested
    env = os.environ.get("WANDB_MODE", "").lower()
    if env in ("offline", "dryrun"):
        return "offline"
    if env == "disabled" or os.environ.get("WANDB_DISABLED", "").lower() in ("1", "true", "yes"):
        return "disabled"
    if env == "online":
        return "online"
    return "online" if has_api_key() else "offline"


class Tracker:
    """W&B runs of one benchmark.

    Args:
        run_dir: the benchmark's run dir; W&B files go to ``run_dir/wandb``.
        group: the benchmark's name (the W&B group).
        mode: see :func:`resolve_mode`.
        project: the W&B project.

    Example:
        >>> tracker = Tracker("runs/demo", "demo", mode="disabled")
        >>> tracker.enabled
        False
    """

    def __init__(self, run_dir: str | os.PathLike, group: str, mode: str | None = "auto",
                 project: str = PROJECT) -> None:
        self.run_dir = Path(run_dir)
        self.group = group
        self.mode = resolve_mode(mode)
        self.project = os.environ.get("WANDB_PROJECT", project)

    @property
    def enabled(self) -> bool:
        return self.mode != "disabled"

    # ------------------------------------------------------------------ runs
    def start(self, name: str, *, job_type: str, config: Mapping[str, Any] | None = None,
              run_id: str | None = None, tags: Iterable[str] = ()) -> Any:
        """Start (or, with a known ``run_id``, resume) a W&B run of the group; ``None`` when disabled.

        Online failures (no network, a refused key) fall back to offline with a warning.
        """
        if not self.enabled:
            return None
        import wandb

        (self.run_dir / "wandb").mkdir(parents=True, exist_ok=True)
        arguments = dict(project=self.project, group=self.group, name=name, job_type=job_type,
                         config=dict(config or {}), dir=str(self.run_dir), id=run_id, resume="allow",
                         tags=list(tags), reinit="create_new", settings=wandb.Settings(console="off", silent=True))
        try:
            return wandb.init(mode=self.mode, **arguments)
        except Exception as err:  # noqa: BLE001 - any online failure: keep the files offline instead
            if self.mode != "online":
                raise
            warnings.warn(f"W&B online start failed ({err}); logging offline to {self.run_dir / 'wandb'}", stacklevel=2)
            self.mode = "offline"
            return wandb.init(mode="offline", **arguments)

    @staticmethod
    def new_id() -> str:
        """A fresh W&B run id, 8 characters of [a-z0-9] (stored by the runner so a resumed run keeps its id)."""
        import secrets
        import string

        alphabet = string.ascii_lowercase + string.digits
        return "".join(secrets.choice(alphabet) for _ in range(8))

    @staticmethod
    def logger(run: Any):
        """Lightning's ``WandbLogger`` writing into ``run`` (train losses, hyper-parameters), or ``None``."""
        if run is None:
            return None
        from lightning.pytorch.loggers import WandbLogger

        return WandbLogger(experiment=run, log_model=False)

    @staticmethod
    def log_means(run: Any, dataset: str, means: Mapping[str, float]) -> None:
        """Log ``test/<dataset>/<metric>`` means (history and summary)."""
        if run is None:
            return
        values = {f"test/{dataset}/{metric}": float(value) for metric, value in means.items()}
        run.log(values)
        run.summary.update(values)

    @staticmethod
    def log_constant_images(run: Any, dataset: str, flagged: Iterable[str], total: int) -> None:
        """Record how many fused images of ``dataset`` are constant (:mod:`benchmarks.report.degenerate`):
        summary ``constant_images/<dataset>`` (count) and ``constant_images/<dataset>/ids``; a run with any
        gets the tag ``constant-output``."""
        if run is None:
            return
        flagged = list(flagged)
        run.summary.update({f"constant_images/{dataset}": len(flagged), f"constant_images/{dataset}/of": int(total),
                            f"constant_images/{dataset}/ids": ",".join(flagged)})
        if flagged and "constant-output" not in (run.tags or ()):
            run.tags = (*(run.tags or ()), "constant-output")

    @staticmethod
    def log_images(run: Any, dataset: str, images: Iterable[tuple[str, str | os.PathLike]]) -> None:
        """Log fused PNGs as ``fused/<dataset>/<pair_id>``: ``images`` is ``[(pair_id, path), ...]``."""
        if run is None:
            return
        import wandb

        media = {f"fused/{dataset}/{pair_id}": wandb.Image(str(path), caption=f"{dataset} #{pair_id}")
                 for pair_id, path in images}
        if media:
            run.log(media)

    @staticmethod
    def log_leaderboard(run: Any, summary, plots: Iterable[str | os.PathLike] = ()) -> None:
        """Log the leaderboard (``leaderboard.csv`` rows) as a ``wandb.Table`` and the PNG plots as images."""
        if run is None:
            return
        import wandb

        table = wandb.Table(dataframe=summary.astype({"higher_is_better": str}))
        payload: dict[str, Any] = {"leaderboard": table}
        for path in plots:
            path = Path(path)
            if path.suffix == ".png":
                payload[f"plots/{path.stem}"] = wandb.Image(str(path))
        run.log(payload)

    @staticmethod
    def finish(run: Any, exit_code: int = 0) -> None:
        if run is not None:
            run.finish(exit_code=exit_code)


# ---------------------------------------------------------------- offline runs
_HEADER = struct.Struct("<4sHB")  # ":W&B", magic 0xBEE1, version
_RECORD = struct.Struct("<IHB")  # crc32, length, type (1 full, 2 first, 3 middle, 4 last)
_BLOCK = 32768


def _records(path: Path) -> Iterator[bytes]:
    """The raw protobuf records of a ``run-<id>.wandb`` file (a LevelDB-style log)."""
    data = path.read_bytes()
    if len(data) < _HEADER.size:
        raise ValueError(f"{path}: too short for a W&B run file")
    ident, magic, _ = _HEADER.unpack_from(data)
    if ident != b":W&B" or magic != 0xBEE1:
        raise ValueError(f"{path}: not a W&B run file (bad header)")
    position, pending = _HEADER.size, b""
    while position + _RECORD.size <= len(data):
        left = _BLOCK - position % _BLOCK
        if left < _RECORD.size:  # block trailer padding
            position += left
            continue
        _, length, kind = _RECORD.unpack_from(data, position)
        if length == 0 and kind == 0:  # zero padding up to the next block
            position += left
            continue
        start = position + _RECORD.size
        pending += data[start:start + length]
        position = start + length
        if kind in (1, 4):
            yield pending
            pending = b""


def read_offline_run(run_path: str | os.PathLike) -> dict[str, Any]:
    """What an offline W&B run holds.

    Args:
        run_path: an ``offline-run-*`` folder (or its ``run-<id>.wandb`` file).

    Returns:
        ``{"id", "name", "group", "job_type", "config": {...}, "summary": {...},
        "history_keys": set of logged keys, "finished": bool}``.
    """
    from wandb.proto import wandb_internal_pb2 as pb

    path = Path(run_path)
    if path.is_dir():
        files = sorted(path.glob("run-*.wandb"))
        if not files:
            raise DataNotFoundError(f"{path}: no run-*.wandb file; not an offline W&B run folder")
        path = files[0]
    run: dict[str, Any] = {"id": None, "name": None, "group": None, "job_type": None, "config": {},
                           "summary": {}, "history_keys": set(), "finished": False}

    def value(item) -> Any:
        try:
            return json.loads(item.value_json)
        except json.JSONDecodeError:
            return item.value_json

    def key(item) -> str:
        return item.key or "/".join(item.nested_key)

    for raw in _records(path):
        record = pb.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.update(id=record.run.run_id, name=record.run.display_name, group=record.run.run_group,
                       job_type=record.run.job_type)
            run["config"].update({key(i): value(i) for i in record.run.config.update})
        elif kind == "config":
            run["config"].update({key(i): value(i) for i in record.config.update})
        elif kind == "history":
            run["history_keys"].update(key(i) for i in record.history.item)
        elif kind == "summary":
            run["summary"].update({key(i): value(i) for i in record.summary.update if key(i)})
        elif kind == "exit":
            run["finished"] = True
    run["config"].pop("_wandb", None)
    return run
