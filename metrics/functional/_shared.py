"""Work that several metrics of one image share, computed once while an evaluation asks for it.

SSIM and MS-SSIM's first scale filter the same statistics; so do VIF (Han's VIFF) and
VIFP; Q, Qw and Qe compute the same window terms. Inside ``with shared_work():`` (the
evaluation engine opens one per image) :func:`shared` keeps each such intermediate the
first time it is computed, keyed by the metric's input tensors (by identity) and options,
and hands the same tensors to the next metric: the values are those of computing it again,
bit for bit, since it is the same computation. Outside the block (a metric used alone, a
training loss, anything under autograd) nothing is kept.

A shared result that a consumer modified in place (its tensors' version counters moved)
is computed again rather than handed out.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Callable, Iterator

import torch

__all__ = ["shared", "shared_work"]

_STORE: contextvars.ContextVar[dict | None] = contextvars.ContextVar("ivif_bench_shared_work", default=None)


@contextlib.contextmanager
def shared_work() -> Iterator[None]:
    """Keep shared intermediates for the duration of the block (one image, or one batch)."""
    token = _STORE.set({})
    try:
        yield
    finally:
        _STORE.reset(token)


def shared(name: str, compute: Callable[[], Any], inputs: tuple[torch.Tensor, ...], **options: Any) -> Any:
    """``compute()``, or its stored result for the same ``name``, ``inputs`` (identity) and ``options``."""
    store = _STORE.get()
    if store is None or any(t.requires_grad for t in inputs):
        return compute()
    key = (name, tuple(id(t) for t in inputs), tuple(sorted(options.items())))
    entry = store.get(key)
    if entry is None or _versions(entry[1]) != entry[2] or _versions(inputs) != entry[3]:
        result = compute()
        entry = store[key] = (inputs, result, _versions(result), _versions(inputs))  # inputs held: ids stay theirs
    return entry[1]


def _versions(value: Any) -> tuple:
    """The in-place version counters of the tensors in ``value`` (a tensor, or nested tuples / lists of them)."""
    if isinstance(value, torch.Tensor):
        return (value._version,)
    if isinstance(value, (tuple, list)):
        return tuple(v for item in value for v in _versions(item))
    return ()
