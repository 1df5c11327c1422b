"""The one user-error type of ivif-bench: the input is at fault, and the message names it and the fix.

The CLI prints a :class:`UserError` as one line (``ivif-bench <command>: error:
...``, exit code 2) and lets every other exception show its traceback, so a
bug is never turned into a one-line message. Raise it (or a subclass) where
the input is at fault: a bad argument, a missing or damaged file, an unknown
name. It subclasses ``ValueError``; the two subclasses below also subclass
what callers of the registries and of file lookups catch.

Example:
    >>> from datamodules.errors import UnknownNameError
    >>> str(UnknownNameError("unknown method 'x'; registered: average, max"))
    "unknown method 'x'; registered: average, max"
"""

from __future__ import annotations

__all__ = ["DataNotFoundError", "UnknownNameError", "UserError"]


class UserError(ValueError):
    """A problem with the user's input or environment, printed without a traceback."""


class UnknownNameError(UserError, KeyError):
    """An unknown registry name (method, metric, convention, dataset, profile); also a ``KeyError``."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataNotFoundError(UserError, FileNotFoundError):
    """A missing data root, dataset folder, file or run dir; also a ``FileNotFoundError``."""
