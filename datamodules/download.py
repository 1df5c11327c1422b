"""Fetch registered datasets from their upstream repositories and verify a data root.

Every file a dataset needs is listed, with its sha256 and size, in the
manifest shipped in ``datamodules/manifests/``. :func:`download` fetches the
missing or damaged ones from ``<base>/<owner>/<repo>/<commit>/<path>`` at the
pinned commit (base ``https://raw.githubusercontent.com``, or
``$IVIF_BENCH_DATA_URL`` / ``base_url=`` for a mirror) with :mod:`pooch`,
which downloads to a temporary file beside the target, checks the sha256 and
only then moves it into place: a partial or corrupted download never becomes
a file at its final path. :func:`verify` checks a root against the manifests.

Example:
    >>> from datamodules.download import verify
    >>> [status.summary() for status in verify("../shared/data", ["tno"])]  # doctest: +SKIP
    ['tno: complete, 40/40 pairs (80 files)']
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .datasets import (
    SOURCES,
    DatasetError,
    dataset_ids,
    get_dataset,
    list_datasets,
    load_manifest,
    manifest_pair_id,
    natural_key,
    parse_ids,
    resolve_data_root,
)

__all__ = [
    "BASE_URL_ENV_VAR",
    "DEFAULT_BASE_URL",
    "DatasetStatus",
    "FilesStatus",
    "DownloadError",
    "ManifestFile",
    "default_names",
    "download",
    "manifest_files",
    "sha256_of",
    "verify",
]

BASE_URL_ENV_VAR = "IVIF_BENCH_DATA_URL"
DEFAULT_BASE_URL = "https://raw.githubusercontent.com"


class DownloadError(DatasetError):
    """Files that could not be fetched or failed their sha256 check; the message names each one."""


@dataclass(frozen=True)
class ManifestFile:
    """One file of a dataset, as the shipped manifest records it.

    Attributes:
        dataset: the dataset it belongs to.
        pair_id: the pair it belongs to.
        path: path inside the upstream repository (``Datasets/Test_data_TNO/IR1.bmp``).
        sha256: hex digest of the exact bytes.
        size: bytes.
    """

    dataset: str
    pair_id: str
    path: str
    sha256: str
    size: int

    def target(self, data_root: Path) -> Path:
        """Where the file lives under a data root (or inside the package for a sample)."""
        return get_dataset(self.dataset).folder(data_root) / self.path

    def url(self, base_url: str) -> str:
        """Its raw-file URL at the pinned commit."""
        return SOURCES[get_dataset(self.dataset).source].raw_url(self.path, base_url)


def default_names() -> list[str]:
    """The datasets that own a manifest and live in a data root: tno, flir, nir, flir_train, roadscene, vifb, tang_tno."""
    return [n for n in list_datasets(embedded=False) if get_dataset(n).manifest == n]


def manifest_files(name: str, ids: str | Iterable[str | int] | None = None) -> list[ManifestFile]:
    """The files of dataset ``name`` (restricted to pairs ``ids``, e.g. ``"1-3"``), from its manifest.

    Raises:
        KeyError: unknown dataset.
        DatasetError: a requested id is not in the dataset.
    """
    spec = get_dataset(name)
    wanted = set(dataset_ids(name))
    files = []
    for path, record in load_manifest(spec.manifest)["files"].items():
        pair_id = manifest_pair_id(spec, path)
        if pair_id not in wanted:
            continue
        files.append(ManifestFile(name, pair_id, path, record["sha256"], int(record["size"])))
    selection = parse_ids(ids)
    if selection is not None:
        have = {f.pair_id for f in files}
        unknown = [i for i in selection if i not in have]
        if unknown:
            raise DatasetError(f"dataset {name!r} has no pair with id {', '.join(map(repr, unknown[:5]))}")
        files = [f for f in files if f.pair_id in set(selection)]
    return sorted(files, key=lambda f: (natural_key(f.pair_id), f.path))


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _problem(entry: ManifestFile, path: Path) -> str | None:
    """Why the file at ``path`` is not the manifest's (``None`` when it is)."""
    if not path.is_file():
        return "missing"
    size = path.stat().st_size
    if size != entry.size:
        return f"size {size} bytes, expected {entry.size}"
    if sha256_of(path) != entry.sha256:
        return f"sha256 differs from the manifest's {entry.sha256[:12]}..."
    return None


@dataclass
class FilesStatus:
    """What a verify found for one set of manifest files (a dataset, an artifact).

    Attributes:
        name: the dataset or artifact.
        folder: where its files were looked for.
        files: files checked.
        missing: paths of absent files.
        corrupt: ``(path, reason)`` of files that differ from the manifest.
    """

    name: str
    folder: Path
    files: int
    missing: list[Path] = field(default_factory=list)
    corrupt: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every file present and matching."""
        return not self.missing and not self.corrupt


@dataclass
class DatasetStatus(FilesStatus):
    """What :func:`verify` found for one dataset (:class:`FilesStatus`, and its pairs).

    Attributes:
        pairs_expected: pairs the manifest lists.
        pairs_ok: pairs whose IR and VIS files both match the manifest.
    """

    pairs_expected: int = field(default=0, kw_only=True)
    pairs_ok: int = field(default=0, kw_only=True)

    def summary(self) -> str:
        """One line: ``tno: complete, 40/40 pairs (80 files)`` or what is wrong, naming the first bad files."""
        return files_summary(f"{self.name}: {{}}, {self.pairs_ok}/{self.pairs_expected} pairs ({self.files} files)",
                             self.missing, self.corrupt)


def files_summary(head: str, missing: Sequence[Path], corrupt: Sequence[tuple[Path, str]]) -> str:
    """``head`` (a format string with one ``{}``) with "complete", else with CORRUPT / INCOMPLETE and the first
    three corrupt and three missing files (the line every verify status prints)."""
    if not missing and not corrupt:
        return head.format("complete")
    parts = [f"{path}: {reason}" for path, reason in corrupt[:3]]
    parts += [f"{path}: missing" for path in missing[:3]]
    more = len(corrupt) + len(missing) - len(parts)
    state = "CORRUPT" if corrupt else "INCOMPLETE"
    return head.format(state) + "; " + "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def verify(data_root: str | os.PathLike | None = None, names: Sequence[str] | None = None,
           ids: str | Iterable[str | int] | None = None) -> list[DatasetStatus]:
    """Check every file of the datasets ``names`` under ``data_root`` against the shipped sha256 manifests.

    Args:
        data_root: the root to check (see :func:`~datamodules.datasets.resolve_data_root`).
        names: datasets to check; default :func:`default_names` (the seven data-root datasets).
        ids: check only these pairs of each.

    Returns:
        one :class:`DatasetStatus` per dataset; nothing is raised for a bad file.
    """
    root = resolve_data_root(data_root)
    statuses = []
    for name in names or default_names():
        spec = get_dataset(name)
        entries = manifest_files(name, ids)
        status = DatasetStatus(name, spec.folder(root), len(entries), pairs_expected=len({e.pair_id for e in entries}))
        bad_pairs = set()
        for entry in entries:
            path = entry.target(root)
            problem = _problem(entry, path)
            if problem == "missing":
                status.missing.append(path)
            elif problem:
                status.corrupt.append((path, problem))
            if problem:
                bad_pairs.add(entry.pair_id)
        status.pairs_ok = status.pairs_expected - len(bad_pairs)
        statuses.append(status)
    return statuses


def download(
    names: Sequence[str] | None = None,
    data_root: str | os.PathLike | None = None,
    ids: str | Iterable[str | int] | None = None,
    base_url: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Fetch the missing or damaged files of ``names`` into ``data_root``, each checked against its sha256.

    Args:
        names: datasets to fetch; default :func:`default_names`. Embedded
            samples need nothing and are skipped.
        data_root: target root (created if needed).
        ids: fetch only these pairs of each dataset (``"1-3"``).
        base_url: raw-file server; default ``$IVIF_BENCH_DATA_URL``, else
            ``https://raw.githubusercontent.com``. URLs are ``<base>/<owner>/<repo>/<commit>/<path>``.
        progress: called with one line per file fetched (e.g. ``print``).

    Returns:
        the paths written (files already valid are left alone and not listed).

    Raises:
        DownloadError: after trying every file, naming each that could not be
            fetched or failed its sha256 check; such a file is left absent.
    """
    base = base_url or os.environ.get(BASE_URL_ENV_VAR) or DEFAULT_BASE_URL
    root = resolve_data_root(data_root)
    written: list[Path] = []
    failures: list[str] = []
    for name in names or default_names():
        if get_dataset(name).embedded:
            continue
        done, failed = fetch_entries(name, manifest_files(name, ids), root, base, progress)
        written += done
        failures += failed
    if failures:
        raise DownloadError(f"{len(failures)} file(s) failed: " + "; ".join(failures))
    return written


# ----------------------------------------------------------------------------------------------------------
# Fetching any list of manifest entries (datamodules.weights uses these for the released weights and images).
# An entry is anything with ``path``, ``sha256``, ``size``, ``target(root)`` and ``url(base_url)``
# (a ManifestFile, a weights.ArtifactFile).

def file_problem(entry, path: Path) -> str | None:
    """Why the file at ``path`` is not ``entry``'s (``"missing"``, its size, its sha256), ``None`` when it is."""
    return _problem(entry, path)


def fetch_entries(name: str, entries: Iterable, root: Path, base_url: str,
                  progress: Callable[[str], None] | None = None) -> tuple[list[Path], list[str]]:
    """Fetch each entry whose file under ``root`` is missing or damaged, sha256-checked by pooch.

    pooch downloads to a temporary file beside the target, checks the sha256
    and only then moves it into place; a file that fails is left absent.

    Args:
        name: what the entries belong to, for ``progress`` lines (``"ifcnn_weights: Code/..."``).
        entries: the files (see above).
        root: the data root they land in (created as needed).
        base_url: raw-file server (``<base>/<owner>/<repo>/<commit>/<path>``).
        progress: called with one line per file fetched.

    Returns:
        (paths written, failure messages naming each file that failed); nothing is raised for a bad file.
    """
    import pooch
    import requests

    pooch.get_logger().setLevel(logging.WARNING)  # progress is reported by the caller
    written: list[Path] = []
    failures: list[str] = []
    for entry in entries:
        target = entry.target(root)
        if _problem(entry, target) is None:
            continue
        url = entry.url(base_url)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            pooch.retrieve(url, known_hash=f"sha256:{entry.sha256}", fname=target.name, path=target.parent)
        except ValueError as err:  # pooch: hash mismatch (the temporary download is deleted)
            failures.append(f"{target}: downloaded from {url}, sha256 does not match the manifest ({err})")
            continue
        except (OSError, requests.RequestException) as err:
            failures.append(f"{target}: could not fetch {url} ({err})")
            continue
        written.append(target)
        if progress:
            progress(f"{name}: {entry.path}")
    return written, failures
