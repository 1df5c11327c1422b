"""Compiled CPU kernels (numba) that compute exactly what the torch code computes, only faster.

A kernel here is used only where it gives the torch path's result bit for bit, so that
the values never depend on whether numba is installed:

* :func:`separable_valid`: the separable 'valid' filter of :mod:`._filters`. torch's
  ``Tensor.add_(x, alpha=t)`` is one fused multiply-add per value (``fma(t, x, out)``) on
  this machine's kernels; the kernel does the same operations in the same tap order, but
  filters each output row in one pass over cached rows instead of one pass over the image
  per tap (about 3x faster). Whether torch fuses the multiply-add depends on its build and
  CPU: :func:`available` checks it once against torch itself and turns the kernel off if
  the two ever differ.

numba is optional: without it (or on another dtype, device, or under autograd) the torch
code runs. Compiled code is cached on disk (``cache=True``), so only the first run on a
machine compiles.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

__all__ = ["available", "separable_valid"]


@functools.lru_cache(maxsize=None)
def _compiled():
    """The numba kernels, or ``None`` where numba cannot be imported."""
    try:
        import llvmlite.ir as lir
        from numba import njit, types
        from numba.extending import intrinsic
    except ImportError:
        return None

    @intrinsic
    def fma(typingctx, a, b, c):  # noqa: ARG001  (numba's intrinsic signature)
        """llvm.fma.f64: a * b + c with one rounding."""
        def codegen(context, builder, signature, args):
            double = lir.DoubleType()
            function = builder.module.declare_intrinsic("llvm.fma", [double], lir.FunctionType(double, [double] * 3))
            return builder.call(function, args)
        return types.float64(types.float64, types.float64, types.float64), codegen

    @njit(cache=True, boundscheck=False, nogil=True)
    def separable(x, rows, columns, step, out):
        """out[p, i, j] = sum_k columns[k] * (sum_l rows[l] * x[p, step i + l, .])[step j + k], torch's fma order."""
        planes, _, width = x.shape
        _, height_out, width_out = out.shape
        line = np.empty(width)
        for p in range(planes):
            for i in range(height_out):
                top = step * i
                first = x[p, top]
                for j in range(width):
                    line[j] = first[j] * rows[0]
                for k in range(1, rows.shape[0]):
                    tap = rows[k]
                    if tap != 0.0:
                        source = x[p, top + k]
                        for j in range(width):
                            line[j] = fma(tap, source[j], line[j])
                target = out[p, i]
                for j in range(width_out):
                    target[j] = line[step * j] * columns[0]
                for k in range(1, columns.shape[0]):
                    tap = columns[k]
                    if tap != 0.0:
                        for j in range(width_out):
                            target[j] = fma(tap, line[step * j + k], target[j])

    @njit(cache=True, boundscheck=False, nogil=True)
    def fused_multiply_add(a, b, c, out):
        for i in range(a.shape[0]):
            out[i] = fma(a[i], b[i], c[i])

    return {"separable": separable, "fma": fused_multiply_add}


@functools.lru_cache(maxsize=None)
def available() -> bool:
    """numba is importable and its fused multiply-add is torch's ``add_(alpha=)`` here, bit for bit."""
    kernels = _compiled()
    if kernels is None:
        return False
    generator = torch.Generator().manual_seed(0)
    # values where a fused and an unfused multiply-add round differently (about 1 in 10 random ones)
    a, b, c = (torch.rand(4096, dtype=torch.float64, generator=generator) for _ in range(3))
    expected = c.clone().add_(b, alpha=0.1234567891234)
    got = np.empty(4096)
    kernels["fma"](np.full(4096, 0.1234567891234), b.numpy(), c.numpy(), got)
    return bool(np.array_equal(got, expected.numpy()))


def separable_valid(x: torch.Tensor, rows, columns, step: int, out: torch.Tensor) -> None:
    """Write ``separable_correlate_valid(x, rows, columns, step)`` into ``out`` (CPU float64, no grad; numba).

    Shape:
        x: ... x H x W; out: ... x H' x W' (a view of a larger tensor is fine when its leading dims merge).
    """
    planes = x[..., 0, 0].numel()
    source = x.contiguous().view(planes, *x.shape[-2:]).numpy()
    rows, columns = np.asarray(rows, dtype=np.float64), np.asarray(columns, dtype=np.float64)
    try:
        target = out.view(planes, *out.shape[-2:]).numpy()
    except RuntimeError:  # leading dims that do not merge: through a buffer
        buffer = np.empty((planes, *out.shape[-2:]))
        _compiled()["separable"](source, rows, columns, step, buffer)
        out.copy_(torch.from_numpy(buffer).view(out.shape))
        return
    _compiled()["separable"](source, rows, columns, step, target)
