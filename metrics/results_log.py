"""Results that survive an interruption: per-image rows appended to ``<out>.partial`` as they are computed.

``ivif-bench evaluate --out results.csv`` writes each finished image's rows as one line
of ``results.csv.partial`` (JSON lines; flushed and fsynced per image), so a killed or
interrupted run keeps every image it finished, and the same command run again reads
them back instead of computing them again. When every image is done the CSV is written
atomically and the partial file removed.

The partial file's first line records what is being evaluated (the fused folder, the
dataset and its files, the metric plan); a rerun whose evaluation differs is refused
with a message instead of mixing results. Each image's line records the size and
modification time of its three files: an image whose files changed is computed again.
A last line cut short by a kill is ignored (and overwritten).

Values are stored as JSON numbers (``repr`` of the float64, NaN as ``NaN``), which read
back bit for bit.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Iterable, Sequence

from datamodules.errors import UserError

__all__ = ["PartialResults", "check_output_file", "write_csv"]

_FORMAT = "ivif-bench evaluate partial results v2"


def check_output_file(path: str | os.PathLike) -> Path:
    """Check that ``path`` can be the results CSV: not a folder, its folder creatable and writable.

    Creates the missing parent folders. Raises ``UserError`` with a one-line message naming
    the path otherwise (before any work is done).
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"--out {path} is a folder; give a file path for the CSV, e.g. {path / 'results.csv'}")
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"--out {path}: the file exists and is not writable")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"--out {path}: {_first_file(parent)} is a file, not a folder") from None
    except PermissionError:
        raise UserError(f"--out {path}: cannot create the folder {parent} (permission denied)") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"--out {path}: the folder {parent} is not writable")
    return path


def _first_file(folder: Path) -> Path:
    for candidate in [folder, *folder.parents]:
        if candidate.exists():
            return candidate
    return folder


def _fingerprint(paths: Iterable[os.PathLike]) -> list[list[int]]:
    out = []
    for path in paths:
        stat = os.stat(path)
        out.append([stat.st_size, stat.st_mtime_ns])
    return out


class PartialResults:
    """The append-only per-image log beside ``out`` (``<out>.partial``).

    Args:
        out: the results CSV the log belongs to.
        key: what is being evaluated (JSON-serialisable); a log with another key is refused.

    Use :meth:`done` for the rows already there (image id -> values, for images whose files
    are unchanged), :meth:`append` per finished image, :meth:`remove` once the CSV is written.
    """

    def __init__(self, out: str | os.PathLike, key: dict) -> None:
        self.path = Path(f"{out}.partial")
        self.key = json.loads(json.dumps(key))  # as it reads back
        self._done: dict[str, tuple[list, list[float]]] = {}
        valid_bytes = 0
        if self.path.exists():
            valid_bytes = self._read()
        mode = "r+b" if self.path.exists() else "wb"
        try:
            self._handle = open(self.path, mode)
        except OSError as err:
            raise UserError(f"--out: cannot write {self.path} ({err.strerror})") from None
        self._lock()
        if valid_bytes:
            self._handle.seek(valid_bytes)
            self._handle.truncate()
        else:
            self._handle.truncate(0)
            self._write_line({"format": _FORMAT, "key": self.key})

    def _lock(self) -> None:
        """One evaluation per results file: an exclusive lock on the partial file (where the OS has flock)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover  (Windows)
            return
        try:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._handle.close()
            raise UserError(f"{self.path} is being written by another ivif-bench evaluate; wait for it or choose "
                             f"another --out") from None

    def _read(self) -> int:
        """Load the finished images; the byte length of the valid part (0: start afresh)."""
        data = self.path.read_bytes()
        if not data:  # created, then killed before its first line
            return 0
        lines = data.split(b"\n")
        try:
            header = json.loads(lines[0])
        except (json.JSONDecodeError, UnicodeDecodeError):
            header = None
        if not isinstance(header, dict) or header.get("format") != _FORMAT:
            raise UserError(f"{self.path} is not an ivif-bench partial results file; move it away or choose "
                             f"another --out")
        if header["key"] != self.key:
            differ = sorted(k for k in set(header["key"]) | set(self.key)
                            if header["key"].get(k) != self.key.get(k))
            raise UserError(f"{self.path} holds the unfinished results of a different evaluation (other "
                             f"{', '.join(differ)}); delete it to start afresh, or choose another --out")
        valid = len(lines[0]) + 1
        for line in lines[1:-1]:  # the last piece is empty when the file ends in a newline, else cut short
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                break
            self._done[record["image"]] = (record["files"], record["values"])
            valid += len(line) + 1
        return valid

    def done(self, image_id: str, files: Sequence[os.PathLike]) -> list[tuple[float, str]] | None:
        """The stored ``(value, colour rule)`` per metric of ``image_id`` if its files are unchanged since, else
        ``None``."""
        stored = self._done.get(image_id)
        if stored is None or stored[0] != _fingerprint(files):
            return None
        return [(math.nan if value is None else float(value), str(rule)) for value, rule in stored[1]]

    def append(self, image_id: str, files: Sequence[os.PathLike], values: Sequence[tuple[float, str]]) -> None:
        """Add one finished image's ``(value, colour rule)`` per metric (one line, on disk before returning)."""
        self._write_line({"image": image_id, "files": _fingerprint(files),
                          "values": [[float(value), str(rule)] for value, rule in values]})

    def _write_line(self, record: dict) -> None:
        self._handle.write(json.dumps(record).encode() + b"\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def _csv_field(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    text = str(value)
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_csv(path: str | os.PathLike, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Write rows as CSV atomically, as ``pandas.DataFrame.to_csv(index=False)`` writes them (NaN as empty)."""
    from datamodules.io import atomic_write

    with atomic_write(path, "w", newline="") as handle:
        handle.write(",".join(columns) + "\n")
        for row in rows:
            handle.write(",".join(_csv_field(v) for v in row) + "\n")
