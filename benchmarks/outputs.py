"""Checking where a command will write, before it computes anything.

Example:
    >>> import tempfile
    >>> check_output_dir(tempfile.mkdtemp()).is_dir()
    True
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from datamodules.errors import UserError

__all__ = ["check_output_dir"]


def check_output_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """Check that ``path`` can be an output folder: a folder, or a path where one can be created, writable.

    Writability is tried, not guessed from permission bits (root ignores them;
    a read-only filesystem does not): a temporary file is created and removed
    in ``path`` or in its nearest existing parent. Nothing else is created.

    Returns:
        ``path`` as a :class:`Path` (``~`` expanded).

    Raises:
        UserError: ``path`` (or a parent of it) is a file, or the folder is not writable; one line naming it.
    """
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {path}: is a file, not a folder; name a folder (new or existing)")
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{option} {path}: {existing} is a file, so no folder can be made under it")
    try:
        handle, probe = tempfile.mkstemp(prefix=".ivif-bench-write-check-", dir=existing)
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        raise UserError(f"{option} {path}: cannot write in {existing} ({err.strerror}); choose another {option} "
                        "or make it writable") from None
    return path
