"""Folders of images: listing them, and the layouts a user's own dataset folder may have.

A dataset folder of the user's is one of (names case-insensitive):

* an infrared and a visible sub-folder: ``ir/`` + ``vis/``, ``IR/`` + ``VI/``
  (VIFB, Tang's evaluation code), ``infrared/`` + ``visible/``, or any
  combination of :data:`IR_FOLDERS` and :data:`VIS_FOLDERS`. Files pair by
  stem (``IR/carLight.jpg`` + ``VI/carLight.jpg``: id ``carLight``) or, when
  the stems differ, by the id left after an ``IR`` / ``VIS`` prefix or suffix
  (``ir/IR1.png`` + ``vis/VIS1.png``: id ``1``);
* files side by side: ``IR<id>`` / ``VIS<id>`` (also ``IR_<id>``, ``VI<id>``,
  ``infrared_<id>``, ``visible-<id>``) or ``<id>_IR`` / ``<id>_VIS`` (IFCNN's
  ``<name>_IR.png`` / ``<name>_Vis.png``).

What does not fit is an error that names what was found; files and folders
that are skipped are named in a warning.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

from .errors import DataNotFoundError, UserError

__all__ = [
    "DatasetError",
    "FolderLayout",
    "IMAGE_EXTENSIONS",
    "IR_FOLDERS",
    "VIS_FOLDERS",
    "find_layout",
    "list_images",
    "match_ids",
    "natural_key",
]

IMAGE_EXTENSIONS = frozenset({".bmp", ".png", ".jpg", ".jpeg", ".tif", ".tiff"})
#: infrared / visible sub-folder names a dataset folder may use (compared in lower case)
IR_FOLDERS = ("ir", "infrared")
VIS_FOLDERS = ("vis", "vi", "visible")
_IR = r"(?:infrared|ir)"
_VIS = r"(?:visible|vis|vi)"
# a role word followed by a separator or a digit (IR1, IR_1, VIS-a), or after one (carLight_IR)
_PREFIX = r"{role}(?:[_-]|(?=\d))(.+)"
_SUFFIX = r"(.+?)[_-]{role}"


class DatasetError(UserError):
    """A dataset that cannot be used as asked; the message names the file or folder and the reason."""


def natural_key(text: str) -> tuple:
    """Sort key ordering numbers numerically: ``IR2`` before ``IR10``, ``FLIR_00006`` before ``FLIR_00018``."""
    parts = re.split(r"(\d+)", text)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _names(paths: list[Path], limit: int = 5, slash: bool = False) -> str:
    names = sorted((p.name + ("/" if slash else "") for p in paths), key=natural_key)
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _entries(folder: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """(image files, other files, sub-folders) directly in ``folder``."""
    images, others, subs = [], [], []
    for path in folder.iterdir():
        if path.is_dir():
            subs.append(path)
        else:
            (images if path.suffix.lower() in IMAGE_EXTENSIONS else others).append(path)
    return images, others, subs


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly in ``folder`` (by extension), in natural order.

    Non-image files (``Thumbs.db``, ``.DS_Store``, notes) and sub-folders are
    skipped, each kind with one warning per folder that names them.

    Raises:
        FileNotFoundError: ``folder`` does not exist.
        DatasetError: it holds no image file (the message says what it holds).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataNotFoundError(f"{folder}: no such folder")
    images, others, subs = _entries(folder)
    if images and others:
        warnings.warn(f"{folder}: skipped {_plural(len(others), 'non-image file')}: {_names(others, 10)}",
                      stacklevel=2)
    if images and subs:
        warnings.warn(f"{folder}: skipped {_plural(len(subs), 'sub-folder')} (images are read from this folder "
                      f"only, not from sub-folders): {_names(subs, 10, slash=True)}", stacklevel=2)
    if not images:
        found = [f"{_plural(len(subs), 'sub-folder')} ({_names(subs, slash=True)})" if subs else "",
                 f"{_plural(len(others), 'other file')} ({_names(others)})" if others else ""]
        found = " and ".join(f for f in found if f) or "nothing"
        raise DatasetError(f"{folder}: no image files (.bmp .png .jpg .jpeg .tif .tiff) in it; found {found}")
    return sorted(images, key=lambda p: natural_key(p.name))


def match_ids(images: list[Path], folder: Path, pattern: str, role: str) -> dict[str, Path]:
    """Map pair id -> file for the ``images`` of ``folder`` whose name matches ``pattern`` (the first
    group that matched is the id; case-insensitive); two files of one id are an error naming both."""
    regex = re.compile(pattern, re.IGNORECASE)
    found: dict[str, Path] = {}
    for path in images:
        match = regex.fullmatch(path.name)
        if not match:
            continue
        pair_id = next(group for group in match.groups() if group is not None)
        if pair_id in found:
            raise DatasetError(f"{folder}: two {role} files for pair id {pair_id!r}: "
                               f"{found[pair_id].name} and {path.name}")
        found[pair_id] = path
    return found


def _role_pattern(role: str, ext: bool = True) -> str:
    word = _IR if role == "IR" else _VIS
    tail = r"\.[^.]+" if ext else ""
    return rf"(?:{_PREFIX.format(role=word)}|{_SUFFIX.format(role=word)}){tail}"


def _ids_by_role(images: list[Path], folder: Path, role: str) -> dict[str, Path]:
    """``IR1.png`` / ``1_IR.png`` -> ``1`` (role prefix or suffix removed); other names keep their stem."""
    regex = re.compile(_role_pattern(role, ext=False), re.IGNORECASE)
    found: dict[str, Path] = {}
    for path in images:
        match = regex.fullmatch(path.stem)
        pair_id = (match[1] or match[2]) if match else path.stem
        if pair_id in found:
            raise DatasetError(f"{folder}: two {role} files for pair id {pair_id!r}: "
                               f"{found[pair_id].name} and {path.name}")
        found[pair_id] = path
    return found


class FolderLayout:
    """The IR and VIS files of a user's dataset folder, by pair id.

    Attributes:
        folder: the dataset folder.
        ir_folder, vis_folder: where the IR / VIS files are (``folder`` itself for files side by side).
        ir, vis: pair id -> file.
    """

    def __init__(self, folder: Path, ir_folder: Path, vis_folder: Path, ir: dict[str, Path], vis: dict[str, Path]):
        self.folder, self.ir_folder, self.vis_folder, self.ir, self.vis = folder, ir_folder, vis_folder, ir, vis


def _one(folder: Path, subs: dict[str, list[Path]], names: tuple[str, ...], role: str) -> Path | None:
    found = [p for name in names for p in subs.get(name, [])]
    if len(found) > 1:
        raise DatasetError(f"{folder}: more than one {role} sub-folder ({_names(found, slash=True)}); keep one")
    return found[0] if found else None


def _expected() -> str:
    return ("a dataset folder holds an infrared and a visible sub-folder (ir/ + vis/, IR/ + VI/, infrared/ + "
            "visible/, any case) or IR<id> / VIS<id> (or <id>_IR / <id>_VIS) image files side by side")


def find_layout(folder: str | os.PathLike) -> FolderLayout:
    """Find the IR and VIS files of a user's dataset folder (module docstring: the layouts accepted).

    Warns, naming them, about the sub-folders and files that are skipped.

    Raises:
        FileNotFoundError: no such folder.
        DatasetError: the folder fits no layout; the message names what it holds.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataNotFoundError(f"{folder}: no such folder")
    images, others, sub_list = _entries(folder)
    subs: dict[str, list[Path]] = {}
    for path in sub_list:
        subs.setdefault(path.name.lower(), []).append(path)
    ir_folder = _one(folder, subs, IR_FOLDERS, "infrared")
    vis_folder = _one(folder, subs, VIS_FOLDERS, "visible")
    if ir_folder is not None and vis_folder is not None:
        skipped = [p for p in sub_list if p not in (ir_folder, vis_folder)]
        if skipped:
            warnings.warn(f"{folder}: skipped {_plural(len(skipped), 'sub-folder')} beside {ir_folder.name}/ and "
                          f"{vis_folder.name}/: {_names(skipped, 10, slash=True)}", stacklevel=3)
        if images:
            warnings.warn(f"{folder}: skipped {_plural(len(images), 'image file')} beside {ir_folder.name}/ and "
                          f"{vis_folder.name}/: {_names(images, 10)}", stacklevel=3)
        ir_images, vis_images = list_images(ir_folder), list_images(vis_folder)
        if {p.stem for p in ir_images} == {p.stem for p in vis_images}:  # VIFB, Tang: one name per pair
            ir = match_ids(ir_images, ir_folder, r"(.+)\.[^.]+", "IR")
            vis = match_ids(vis_images, vis_folder, r"(.+)\.[^.]+", "VIS")
        else:  # ir/IR1.png + vis/VIS1.png
            ir, vis = _ids_by_role(ir_images, ir_folder, "IR"), _ids_by_role(vis_images, vis_folder, "VIS")
        return FolderLayout(folder, ir_folder, vis_folder, ir, vis)
    if ir_folder is not None or vis_folder is not None:
        have, role, names = ((ir_folder, "visible", VIS_FOLDERS) if ir_folder is not None
                             else (vis_folder, "infrared", IR_FOLDERS))
        others_found = [p for p in sub_list if p != have]
        raise DatasetError(
            f"{folder}: found the sub-folder {have.name}/ but no {role} sub-folder "
            f"({', '.join(n + '/' for n in names)}, any case)"
            + (f"; other sub-folders: {_names(others_found, slash=True)}" if others_found else "")
            + f"; {_expected()}")
    ir = match_ids(images, folder, _role_pattern("IR"), "IR")
    vis = match_ids(images, folder, _role_pattern("VIS"), "VIS")
    if not ir and not vis:
        found = [f"{_plural(len(images), 'image file')} ({_names(images)})" if images else "",
                 f"{_plural(len(sub_list), 'sub-folder')} ({_names(sub_list, slash=True)})" if sub_list else "",
                 f"{_plural(len(others), 'other file')} ({_names(others)})" if others else ""]
        found = ", ".join(f for f in found if f) or "nothing (an empty folder)"
        raise DatasetError(f"{folder}: not a dataset folder: found {found}; {_expected()}")
    list_images(folder)  # the warnings about skipped files and sub-folders
    unmatched = [p for p in images if p not in {*ir.values(), *vis.values()}]
    if unmatched:
        warnings.warn(f"{folder}: skipped, as neither IR nor VIS by name, {_plural(len(unmatched), 'image file')}: "
                      f"{_names(unmatched, 10)}", stacklevel=3)
    return FolderLayout(folder, folder, folder, ir, vis)
