"""One IR + VIS pair: its files, and decoding them as the gray images a network fuses (and the colour one).

Example:
    >>> from datamodules import load_pairs, read_pair
    >>> ir, vis = read_pair(load_pairs("sample_tno")[0])
    >>> ir.shape == vis.shape
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from .folders import DatasetError
from .io import read_image

__all__ = ["Pair", "read_pair", "read_pair_color"]


@dataclass(frozen=True)
class Pair:
    """One registered IR + VIS pair.

    Attributes:
        pair_id: the id fused outputs are named after (``"7"``, ``"FLIR_00006"``).
        ir_path, vis_path: the image files.
        dataset: the dataset name (a user folder's name for a folder).
        resize_vis: read the VIS image resized to the IR size (see :func:`read_pair`).
    """

    pair_id: str
    ir_path: Path
    vis_path: Path
    dataset: str
    resize_vis: bool = field(default=False, compare=False)


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 H x W (or H x W x 3) resized with PIL's antialiased bilinear filter."""
    return np.array(Image.fromarray(image).resize((width, height), Image.BILINEAR))


def read_pair_color(pair: Pair) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Decode a pair as the two gray images a network fuses, plus the visible image in colour.

    Each file is read with its own channels (``read_image(mode="native")``) and
    turned into the gray image a network takes by :func:`datamodules.color.luminance`:
    a gray file as it is, an RGB file as its PIL "L" luma (for equal channels,
    that channel), which is the Y of the project's one colour transform
    (BT.601 full range, :mod:`datamodules.color`). Where ``pair.resize_vis`` is set, VIS is
    resized to the IR size with PIL's bilinear filter (antialiased), after the
    gray conversion (no shipped dataset needs it).

    Returns:
        ``(ir, vis, vis_rgb)``: uint8 H x W, uint8 H x W, and uint8 H x W x 3
        when the visible file is colour (channels that differ), else ``None``.

    Raises:
        ImageReadError: a missing, corrupt or truncated file (named).
        DatasetError: IR and VIS differ in size (both files and sizes named).
    """
    from .color import is_color, luminance  # here: the colour transform's torch half loads late (`data list`)

    ir = luminance(read_image(pair.ir_path, mode="native"))
    vis_native = read_image(pair.vis_path, mode="native")
    vis = luminance(vis_native)
    vis_rgb = vis_native if is_color(vis_native) else None
    if pair.resize_vis and vis.shape != ir.shape:
        vis = _resize(vis, *ir.shape)
        vis_rgb = None if vis_rgb is None else _resize(vis_rgb, *ir.shape)
    if ir.shape != vis.shape:
        raise DatasetError(
            f"pair {pair.pair_id!r} of {pair.dataset!r}: IR and VIS differ in size: "
            f"{pair.ir_path} is {ir.shape[1]}x{ir.shape[0]} (W x H), {pair.vis_path} is {vis.shape[1]}x{vis.shape[0]}"
        )
    return ir, vis, vis_rgb


def read_pair(pair: Pair) -> tuple[np.ndarray, np.ndarray]:
    """Decode a pair as the two uint8 H x W gray images a network fuses (see :func:`read_pair_color`).

    Gray files are returned as stored; a colour visible (or infrared) image
    gives its PIL "L" luma, the Y of :mod:`datamodules.color`.

    Raises:
        ImageReadError: a missing, corrupt or truncated file (named).
        DatasetError: IR and VIS differ in size (both files and sizes named).
    """
    ir, vis, _ = read_pair_color(pair)
    return ir, vis
