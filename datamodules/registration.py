"""Registering a dataset from another package (a plugin): :func:`register_dataset`.

Example (the README's example plugin registers IFCNN's test pairs this way)::

    register_dataset(DatasetSpec(name="ifcnn_iv", source="IFCNN", ...), manifest=HERE / "ifcnn_iv.json",
                     source=Source(folder="IFCNN", repository="uzeful/IFCNN", commit="8fe59c2...", licence="..."))
"""

from __future__ import annotations

import os
from pathlib import Path

from .datasets import _MANIFEST_FILES, _REGISTRY, SOURCES, DatasetSpec, Source, _register

__all__ = ["register_dataset"]


def register_dataset(spec: DatasetSpec, *, manifest: str | os.PathLike, source: Source | None = None) -> DatasetSpec:
    """Register a dataset from another package (a plugin): it then works wherever a built-in name does.

    Its files live in a data root like the built-in ones (``<root>/<source folder>/...``),
    are fetched by ``ivif-bench data download NAME`` from the upstream repository at
    its pinned commit and checked by ``ivif-bench data verify NAME``.

    Args:
        spec: the dataset (``source`` names the upstream repository; ``manifest`` the
            manifest's name, usually ``spec.name``).
        manifest: the plugin's sha256 manifest file, in the format of
            ``datamodules/manifests/*.json`` (``{"files": {path: {"sha256": ..., "size": ...}}}``,
            paths relative to the source folder).
        source: the upstream repository, when it is not one of :data:`SOURCES`.

    Raises:
        ValueError: no ``source``, a name or source key already registered differently, or a missing manifest.
    """
    if spec.source is None:
        raise ValueError(f"register_dataset({spec.name!r}): a plugin dataset lives in a data root; give its source")
    if source is not None:
        known = SOURCES.get(spec.source)
        pinned = (source.folder, source.repository, source.commit)
        if known is not None and (known.folder, known.repository, known.commit) != pinned:
            raise ValueError(f"register_dataset({spec.name!r}): source {spec.source!r} is already {known}")
        SOURCES.setdefault(spec.source, source)
    if spec.source not in SOURCES:
        raise ValueError(f"register_dataset({spec.name!r}): unknown source {spec.source!r}; pass source=Source(...)")
    path = Path(manifest).expanduser().resolve()
    if not path.is_file():
        raise ValueError(f"register_dataset({spec.name!r}): no manifest file {path}")
    if _REGISTRY.get(spec.name, spec) != spec or _MANIFEST_FILES.get(spec.manifest, path) != path:
        raise ValueError(f"dataset {spec.name!r} is registered twice")
    _MANIFEST_FILES[spec.manifest] = path
    _register(spec)
    return spec
