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

A functional declares the intermediates it reads (:func:`uses`); the engine drops each one
(:func:`release`) once the last metric of its plan that declares it has run
(:func:`release_schedule`), so that one image's evaluation holds the intermediates still to
be read, not every metric's. A consumer that did not declare one and asks for it after its
release computes it again: the same values.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Callable, Iterator

import torch

__all__ = ["release", "release_schedule", "shared", "shared_work", "uses"]

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


def uses(*names: str) -> Callable[[Callable], Callable]:
    """Decorator: the functional reads the shared intermediates ``names`` (see :func:`release_schedule`)."""
    def mark(functional: Callable) -> Callable:
        functional.shared_intermediates = tuple(names)
        return functional
    return mark


def release_schedule(functionals: list[Callable]) -> list[tuple[str, ...]]:
    """Per position in ``functionals`` (a plan, in order) the shared names to release after it: those it is the
    last to declare (:func:`uses`)."""
    last: dict[str, int] = {}
    for i, functional in enumerate(functionals):
        for name in getattr(functional, "shared_intermediates", ()):
            last[name] = i
    return [tuple(name for name, at in last.items() if at == i) for i in range(len(functionals))]


def release(*names: str) -> None:
    """Drop the stored intermediates called ``names`` (whatever their inputs and options) from the current block."""
    store = _STORE.get()
    if store is None or not names:
        return
    for key in [key for key in store if key[0] in names]:
        del store[key]
