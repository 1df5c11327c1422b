"""Provenance records and seeding: the one place that says how a result was made.

Every run dir holds ``provenance.json`` (:func:`collect`): the command line, the
seeds, the resolved configs, package versions, the device and the git commit
(with a dirty flag) of the ivif-bench checkout, plus start and end times. Each
finished unit of work embeds the short form (:func:`environment`). Records are
written atomically (:func:`write_json`) so a killed run never leaves half a file.

Example:
    >>> from benchmarks.provenance import environment
    >>> sorted(environment())[:3]
    ['device', 'git', 'hostname']
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

from datamodules.io import atomic_write

__all__ = ["PACKAGES", "collect", "device_info", "environment", "git_info", "now", "package_versions",
           "read_json", "seed_everything", "write_json"]

REPO_ROOT = Path(__file__).resolve().parents[1]

# Distributions whose versions change the numbers (or the files) a run produces.
PACKAGES: tuple[str, ...] = ("ivif-bench", "torch", "lightning", "torchmetrics", "numpy", "scipy",
                             "scikit-image", "pillow", "PyWavelets", "pandas", "matplotlib", "wandb",
                             "jsonargparse")


def now(timespec: str = "seconds") -> str:
    """The current time as an ISO 8601 string with the local UTC offset (``timespec`` as ``isoformat``'s)."""
    return _dt.datetime.now().astimezone().isoformat(timespec=timespec)


def package_versions(packages: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    """``{distribution: version}``, ``None`` for one that is not installed; plus ``python``."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


_GIT_INFO: dict[str, dict[str, Any]] = {}


def git_info(repo: str | os.PathLike = REPO_ROOT) -> dict[str, Any]:
    """Commit and dirty flag of the ivif-bench checkout, as this process first saw them.

    Read once per process and repo: the code a long run executes is what it loaded at its start, so an
    edit or a commit made while it runs must not change what its records say.

    Returns:
        ``{"commit": 40-hex or None, "dirty": bool or None}``; ``None`` values
        when ``repo`` is not a git checkout (e.g. an installed wheel) or git is absent.
    """

    key = str(Path(repo).resolve())
    if key not in _GIT_INFO:
        _GIT_INFO[key] = _read_git_info(key)
    return dict(_GIT_INFO[key])


def _read_git_info(repo: str) -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit.strip(), "dirty": None if status is None else bool(status.strip())}


def device_info() -> dict[str, Any]:
    """CPU, accelerator and thread facts that can change speed or float results."""
    import torch

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        info["mps_available"] = True
    return info


def environment() -> dict[str, Any]:
    """The short provenance every record carries: versions, device, git, host."""
    return {
        "versions": package_versions(),
        "device": device_info(),
        "git": git_info(),
        "hostname": socket.gethostname(),
    }


def collect(
    *,
    argv: Sequence[str] | None = None,
    seeds: Sequence[int] = (),
    configs: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A full provenance record.

    Args:
        argv: the command line (default ``sys.argv``).
        seeds: the seeds of the run.
        configs: resolved configs, e.g. ``{"didfuse/seed0": {...}}``.
        **extra: anything else worth keeping (arguments, data root, start time).

    Returns:
        A JSON-serialisable dict.
    """
    record: dict[str, Any] = {
        "argv": list(sys.argv if argv is None else argv),
        "seeds": [int(s) for s in seeds],
        "created": now(),
        **environment(),
    }
    if configs is not None:
        record["configs"] = configs
    record.update(extra)
    return record


def _default(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (set, tuple)):
        return list(value)
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    return str(value)


def write_json(path: str | os.PathLike, record: Any) -> Path:
    """Write ``record`` as indented JSON, atomically (paths and numpy scalars are converted)."""
    path = Path(path)
    with atomic_write(path, "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2, sort_keys=False, default=_default)
        handle.write("\n")
    return path


def print_report(text: str, out: str | os.PathLike | None = None) -> None:
    """Print a benchmark's or check's report and, when ``out`` is given, write it there too (atomically)."""
    print(text)
    if out is not None:
        with atomic_write(out) as handle:
            handle.write(text + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON record, with an error naming the file if it is unreadable."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable JSON record ({err})") from None


def seed_everything(seed: int) -> int:
    """Seed Python, NumPy and torch (CPU and every GPU) and the dataloader workers.

    The one seeding call of ivif-bench; same seed + config + machine gives the
    same numbers. Returns the seed.
    """
    import lightning as L

    return L.seed_everything(int(seed), workers=True, verbose=False)
