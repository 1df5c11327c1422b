"""The authors' released weights and fused images, as verified artifacts beside the datasets.

An *artifact* is a fixed set of files of an upstream repository, pinned at a
commit and listed with its sha256 in the manifest shipped in the package
(``datamodules/manifests/weights.json``):

=====================  ===============================================================  =====
artifact               files (upstream layout under the data root)                        count
=====================  ===============================================================  =====
``didfuse_weights``    ``IVIF-DIDFuse/Models/{Encoder,Decoder}_weight_IJCAI.pkl``            2
``densefuse_weights``  ``densefuse-pytorch/models/densefuse_{gray,rgb}.model``                2
``ifcnn_weights``      ``IFCNN/Code/snapshots/IFCNN-{MAX,MEAN,SUM}.pth``                      3
``didfuse_released``   ``IVIF-DIDFuse/Test_result/{TNO,FLIR,NIR}_IJCAI/F<k>.png``           132
``ifcnn_released``     ``IFCNN/Code/datasets/IVDataset/*.png`` (14 pairs) and                70
                       ``IFCNN/Results/IV/IFCNN-<SCHEME>-IV-<name>.png`` (their fusions)
``tang_tno_ifcnn``     ``Evaluation-for-Image-Fusion/Image/Algorithm/IFCNN_TNO/NN.png``      42
=====================  ===============================================================  =====

Files are read in place from the data root (``--data-root``, else
``$IVIF_BENCH_DATA``, else the user cache dir), else from the user cache dir
(``~/.cache/ivif-bench/data``); :func:`weights_path` checks the file's size and
sha256 before handing it out, and its errors name the file and the one command
that fetches it (:func:`fetch_command`). :func:`download_weights` fetches
missing or damaged files with :mod:`pooch` through
:func:`datamodules.download.fetch_entries` (a temporary file, checked, then
moved into place: a corrupted download never lands at its final path);
:func:`verify_weights` checks a root.

Example:
    >>> from datamodules.weights import weights_path, verify_weights
    >>> weights_path("ifcnn", "max", "../shared/data").name  # doctest: +SKIP
    'IFCNN-MAX.pth'
    >>> [s.summary() for s in verify_weights(["ifcnn_weights"], "../shared/data")]  # doctest: +SKIP
    ['ifcnn_weights: complete, 3/3 files']

Maintainers write the manifest once from a complete data root:
``python -m datamodules.weights --data-root ../shared/data``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from .datasets import MANIFEST_DIR, SOURCES, DatasetError, Source, natural_key, resolve_data_root
from .errors import DataNotFoundError
from .download import (BASE_URL_ENV_VAR, DEFAULT_BASE_URL, DownloadError, FilesStatus, fetch_entries, file_problem,
                       files_summary)

__all__ = [
    "ARTIFACT_SOURCES",
    "ArtifactFile",
    "ArtifactSpec",
    "ArtifactStatus",
    "MANIFEST_PATH",
    "WeightsError",
    "WeightsNotFoundError",
    "artifact_files",
    "cache_root",
    "download_weights",
    "fetch_command",
    "get_artifact",
    "list_artifacts",
    "locate",
    "official_artifact",
    "verify_weights",
    "weights_path",
    "write_manifest",
]

MANIFEST_PATH = MANIFEST_DIR / "weights.json"

# Upstream repositories of the artifacts that are not dataset sources (datasets.SOURCES holds IVIF-DIDFuse
# and Evaluation-for-Image-Fusion).
ARTIFACT_SOURCES: dict[str, Source] = {
    "densefuse-pytorch": Source(
        folder="densefuse-pytorch", repository="hli1221/densefuse-pytorch",
        commit="4394b63e9295db1c6b7a5c3664551c90f0605f2b",
        licence="no licence file upstream; cite Li and Wu, DenseFuse, IEEE TIP 2019"),
    "IFCNN": Source(
        folder="IFCNN", repository="uzeful/IFCNN", commit="8fe59c2b1553e52acc793986208ca479d134a8da",
        licence="no licence file upstream; cite Zhang et al., IFCNN, Information Fusion 54 (2020)"),
}


class WeightsError(DatasetError):
    """A released file that is present but is not the manifest's (size or sha256); the message names it."""


class WeightsNotFoundError(DataNotFoundError):
    """A released file that is in neither the data root nor the user cache; the message names it and the fix.

    A ``FileNotFoundError`` and a :class:`~datamodules.errors.UserError` (the CLI prints it as one line)."""


@dataclass(frozen=True)
class ArtifactSpec:
    """One artifact: what it is and which of its upstream repository's files it holds.

    Attributes:
        name: registry name (``ifcnn_weights``).
        kind: ``"weights"`` (a method's released weights) or ``"released"``
            (published fused images, with the inputs they need where no
            dataset holds those).
        description: one line for listings.
        source: key of the upstream repository (``datasets.SOURCES`` or :data:`ARTIFACT_SOURCES`).
        patterns: glob patterns, relative to the source folder, of its files
            (what the manifest writer lists).
        count: how many files the manifest must list.
        method: the registered method whose weights these are (``kind == "weights"``).
        keys: for weights, a short name per file (``{"max": "Code/snapshots/IFCNN-MAX.pth"}``).
        licence: the terms of these files, where they differ from the source's (a dataset licence).
    """

    name: str
    kind: str
    description: str
    source: str
    patterns: tuple[str, ...]
    count: int
    method: str | None = None
    keys: Mapping[str, str] = field(default_factory=dict)
    licence: str | None = None

    @property
    def upstream(self) -> Source:
        """The upstream :class:`~datamodules.datasets.Source` (folder, repository, commit, licence)."""
        return SOURCES[self.source] if self.source in SOURCES else ARTIFACT_SOURCES[self.source]


_REGISTRY: dict[str, ArtifactSpec] = {}


def _register(spec: ArtifactSpec) -> None:
    if spec.kind not in ("weights", "released"):
        raise ValueError(f"artifact {spec.name!r}: kind must be 'weights' or 'released', got {spec.kind!r}")
    _REGISTRY[spec.name] = spec


def _weights(name: str, method: str, source: str, description: str, keys: dict[str, str],
             licence: str | None = None) -> ArtifactSpec:
    return ArtifactSpec(name=name, kind="weights", description=description, source=source,
                        patterns=tuple(keys.values()), count=len(keys), method=method, keys=keys, licence=licence)


_DIDFUSE_TERMS = "no licence stated upstream; cite Zhao et al., DIDFuse, IJCAI 2020"


_register(_weights(
    "didfuse_weights", "didfuse", "IVIF-DIDFuse",
    "DIDFuse authors' encoder / decoder weights (IJCAI 2020), torch pickles {'weight': state_dict}",
    {"encoder": "Models/Encoder_weight_IJCAI.pkl", "decoder": "Models/Decoder_weight_IJCAI.pkl"}, _DIDFUSE_TERMS))
_register(_weights(
    "densefuse_weights", "densefuse", "densefuse-pytorch",
    "DenseFuse authors' PyTorch-port weights (Hui Li): gray and RGB models, 16-tensor state dicts",
    {"gray": "models/densefuse_gray.model", "rgb": "models/densefuse_rgb.model"}))
_register(_weights(
    "ifcnn_weights", "ifcnn", "IFCNN",
    "IFCNN authors' weights of its three fusion schemes (Information Fusion 2020), state dicts",
    {"max": "Code/snapshots/IFCNN-MAX.pth", "mean": "Code/snapshots/IFCNN-MEAN.pth",
     "sum": "Code/snapshots/IFCNN-SUM.pth"}))
_register(ArtifactSpec(
    name="didfuse_released", kind="released", source="IVIF-DIDFuse", count=132, licence=_DIDFUSE_TERMS,
    description="DIDFuse authors' fused test outputs F<k>.png of TNO (40), FLIR (40) and NIR (52)",
    patterns=("Test_result/TNO_IJCAI/F*.png", "Test_result/FLIR_IJCAI/F*.png", "Test_result/NIR_IJCAI/F*.png")))
_register(ArtifactSpec(
    name="ifcnn_released", kind="released", source="IFCNN", count=70,
    description="IFCNN's 14 infrared-visible test pairs and its released fusions of them, one per scheme "
                "(Results/IV, committed 2019-02-21)",
    patterns=("Code/datasets/IVDataset/*.png", "Results/IV/*.png")))
_register(ArtifactSpec(
    name="tang_tno_ifcnn", kind="released", source="Evaluation-for-Image-Fusion", count=42,
    licence="IFCNN fusions of TNO images (TNO: figshare, CC BY 4.0) as shipped by Tang's evaluation code; "
            "no licence stated for the repository",
    description="the IFCNN fusions of the 42 tang_tno pairs shipped by SeAFusion / PIAFusion's evaluation code",
    patterns=("Image/Algorithm/IFCNN_TNO/*.png",)))


def list_artifacts(kind: str | None = None) -> list[str]:
    """Registered artifact names, in registry order; ``kind`` ``"weights"`` or ``"released"`` filters."""
    return [n for n, s in _REGISTRY.items() if kind is None or s.kind == kind]


def get_artifact(name: str) -> ArtifactSpec:
    """The :class:`ArtifactSpec` registered as ``name``; ``KeyError`` lists the known names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown artifact {name!r}; known artifacts: {', '.join(_REGISTRY)}") from None


def official_artifact(method: str) -> str:
    """The weights artifact of a registered method (``"ifcnn"`` -> ``"ifcnn_weights"``); ``KeyError`` if none."""
    for name, spec in _REGISTRY.items():
        if spec.kind == "weights" and spec.method == method:
            return name
    with_weights = [s.method for s in _REGISTRY.values() if s.kind == "weights"]
    raise KeyError(f"method {method!r} has no released weights; methods with released weights: {', '.join(with_weights)}")


def fetch_command(name: str, data_root: str | os.PathLike | None = None) -> str:
    """The one command that fetches artifact ``name`` (into ``data_root`` when given)."""
    get_artifact(name)
    return f"ivif-bench data download {name}" + (f" --data-root {data_root}" if data_root else "")


def cache_root() -> Path:
    """The user cache data root, ``platformdirs.user_cache_path("ivif-bench") / "data"`` (the fallback)."""
    import platformdirs

    return platformdirs.user_cache_path("ivif-bench") / "data"


@dataclass(frozen=True)
class ArtifactFile:
    """One file of an artifact, as the shipped manifest records it.

    Attributes:
        artifact: the artifact it belongs to.
        folder: the source folder under a data root (``IFCNN``).
        path: path inside the upstream repository (``Code/snapshots/IFCNN-MAX.pth``).
        sha256: hex digest of the exact bytes.
        size: bytes.
        repository, commit: where :meth:`url` fetches it from.
    """

    artifact: str
    folder: str
    path: str
    sha256: str
    size: int
    repository: str
    commit: str

    def target(self, data_root: Path) -> Path:
        """Where the file lives under a data root: ``<root>/<folder>/<path>``."""
        return Path(data_root) / self.folder / self.path

    def url(self, base_url: str) -> str:
        """Its raw-file URL at the pinned commit: ``<base>/<owner>/<repo>/<commit>/<path>``."""
        return f"{base_url.rstrip('/')}/{self.repository}/{self.commit}/{self.path}"


@functools.lru_cache(maxsize=None)
def _manifest() -> dict:
    if not MANIFEST_PATH.is_file():
        raise DatasetError(f"{MANIFEST_PATH}: the weights manifest is missing from the package")
    return json.loads(MANIFEST_PATH.read_text())


def artifact_files(name: str) -> list[ArtifactFile]:
    """Every file of artifact ``name``, from the shipped manifest, in natural path order.

    Raises:
        KeyError: unknown artifact.
        DatasetError: the manifest lacks the artifact or lists the wrong number of files.
    """
    spec = get_artifact(name)
    record = _manifest()["artifacts"].get(name)
    if record is None or len(record["files"]) != spec.count:
        found = "no entry" if record is None else f"{len(record['files'])} files"
        raise DatasetError(f"{MANIFEST_PATH}: artifact {name!r} should list {spec.count} files, has {found}; "
                           "rewrite it with: python -m datamodules.weights --data-root ROOT")
    files = [ArtifactFile(name, record["folder"], path, entry["sha256"], int(entry["size"]),
                          record["repository"], record["commit"]) for path, entry in record["files"].items()]
    return sorted(files, key=lambda f: natural_key(f.path))


def _roots(data_root: str | os.PathLike | None) -> list[Path]:
    """Where files are looked for, in order: the data root, then the user cache dir."""
    return list(dict.fromkeys([resolve_data_root(data_root), cache_root()]))


def locate(name: str, path: str, data_root: str | os.PathLike | None = None, check: bool = True) -> Path:
    """The file ``path`` (relative to its upstream repository) of artifact ``name``, checked.

    Looks in the data root (``data_root``, else ``$IVIF_BENCH_DATA``, else the
    user cache dir), then in the user cache dir; the first copy found is
    used, and (``check``) must match the manifest's size and sha256.

    Raises:
        KeyError: unknown artifact, or ``path`` is not one of its files.
        WeightsNotFoundError: no copy anywhere (names the places looked and the command that fetches it).
        WeightsError: the copy found is damaged or altered (names it and the command).
    """
    entries = {f.path: f for f in artifact_files(name)}
    if path not in entries:
        raise KeyError(f"artifact {name!r} has no file {path!r}")
    entry = entries[path]
    roots = _roots(data_root)
    for root in roots:
        target = entry.target(root)
        if target.is_file():
            problem = file_problem(entry, target) if check else None
            if problem:
                raise WeightsError(f"{target}: {problem} (not the file of {entry.repository}@{entry.commit[:7]}); "
                                   f"fetch it again with: {fetch_command(name, data_root)}")
            return target
    looked = " or ".join(str(entry.target(root)) for root in roots)
    raise WeightsNotFoundError(f"{looked}: missing ({entry.path} of {entry.repository}@{entry.commit[:7]}, "
                               f"artifact {name!r}); fetch it with: {fetch_command(name, data_root)}")


def weights_path(method: str, key: str, data_root: str | os.PathLike | None = None) -> Path:
    """The verified path of one of a method's released weight files.

    Args:
        method: ``"didfuse"``, ``"densefuse"`` or ``"ifcnn"``.
        key: which file: didfuse ``"encoder"`` / ``"decoder"``; densefuse
            ``"gray"`` / ``"rgb"``; ifcnn ``"max"`` / ``"mean"`` / ``"sum"``.
        data_root: the data root to read first (see :func:`locate`).

    Raises:
        KeyError: a method without released weights, or an unknown key.
        WeightsNotFoundError: no copy (the message gives ``ivif-bench data download <artifact>``).
        WeightsError: the copy found differs from the manifest.
    """
    name = official_artifact(method)
    keys = get_artifact(name).keys
    if key not in keys:
        raise KeyError(f"{method} weights have no file {key!r}; choose one of {', '.join(keys)}")
    return locate(name, keys[key], data_root)


@dataclass
class ArtifactStatus(FilesStatus):
    """What :func:`verify_weights` found for one artifact (:class:`~datamodules.download.FilesStatus`; its
    folder is ``<root>/<source folder>``, its files those the manifest lists)."""

    def summary(self) -> str:
        """One line: ``ifcnn_weights: complete, 3/3 files`` or what is wrong, naming the first bad files."""
        good = self.files - len(self.missing) - len(self.corrupt)
        return files_summary(f"{self.name}: {{}}, {good}/{self.files} files", self.missing, self.corrupt)


def verify_weights(names: Sequence[str] | None = None,
                   data_root: str | os.PathLike | None = None) -> list[ArtifactStatus]:
    """Check every file of the artifacts ``names`` under ``data_root`` against the shipped manifest.

    Args:
        names: artifacts to check; default every one (:func:`list_artifacts`).
        data_root: the root to check (see :func:`~datamodules.datasets.resolve_data_root`);
            only that root is checked (no cache fallback).

    Returns:
        one :class:`ArtifactStatus` per artifact; nothing is raised for a bad file.
    """
    root = resolve_data_root(data_root)
    statuses = []
    for name in names or list_artifacts():
        entries = artifact_files(name)
        status = ArtifactStatus(name, root / get_artifact(name).upstream.folder, len(entries))
        for entry in entries:
            target = entry.target(root)
            problem = file_problem(entry, target)
            if problem == "missing":
                status.missing.append(target)
            elif problem:
                status.corrupt.append((target, problem))
        statuses.append(status)
    return statuses


def download_weights(
    names: Sequence[str] | None = None,
    data_root: str | os.PathLike | None = None,
    base_url: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Fetch the missing or damaged files of artifacts ``names`` into ``data_root``, each sha256-checked.

    Args:
        names: artifacts to fetch; default the three weights artifacts
            (``list_artifacts("weights")``).
        data_root: target root (``data_root``, else ``$IVIF_BENCH_DATA``, else
            the user cache dir); files land in its upstream layout.
        base_url: raw-file server; default ``$IVIF_BENCH_DATA_URL``, else
            ``https://raw.githubusercontent.com``.
        progress: called with one line per file fetched.

    Returns:
        the paths written (files already valid are left alone and not listed).

    Raises:
        KeyError: unknown artifact.
        DownloadError: after trying every file, naming each that could not be
            fetched or failed its sha256 check; such a file is left absent.
    """
    base = base_url or os.environ.get(BASE_URL_ENV_VAR) or DEFAULT_BASE_URL
    root = resolve_data_root(data_root)
    written: list[Path] = []
    failures: list[str] = []
    for name in names or list_artifacts("weights"):
        done, failed = fetch_entries(name, artifact_files(name), root, base, progress)
        written += done
        failures += failed
    if failures:
        raise DownloadError(f"{len(failures)} file(s) failed: " + "; ".join(failures))
    return written


def write_manifest(data_root: str | os.PathLike, out: Path = MANIFEST_PATH) -> Path:
    """Write the manifest of every artifact from a complete data root (maintainers); returns its path.

    Raises:
        DatasetError: an artifact's patterns do not match exactly its ``count`` files.
    """
    from .io import atomic_write
    from .manifest import file_record

    root = Path(data_root).resolve()
    artifacts = {}
    for name, spec in _REGISTRY.items():
        source = spec.upstream
        base = root / source.folder
        paths = sorted({p for pattern in spec.patterns for p in base.glob(pattern) if p.is_file()},
                       key=lambda p: natural_key(p.relative_to(base).as_posix()))
        if len(paths) != spec.count:
            raise DatasetError(f"{base}: artifact {name!r} should have {spec.count} files matching "
                               f"{', '.join(spec.patterns)}, found {len(paths)}")
        artifacts[name] = {"kind": spec.kind, "description": spec.description, "method": spec.method,
                           "folder": source.folder, "repository": source.repository, "commit": source.commit,
                           "licence": spec.licence or source.licence,
                           "files": {p.relative_to(base).as_posix(): file_record(p) for p in paths}}
    with atomic_write(out, "w") as handle:
        json.dump({"description": "sha256 of the released weights and fused images (datamodules/weights.py)",
                   "artifacts": artifacts}, handle, indent=1)
        handle.write("\n")
    _manifest.cache_clear()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datamodules.weights",
                                     description="write datamodules/manifests/weights.json from a complete data root")
    parser.add_argument("--data-root", required=True, type=Path, help="a complete data root (e.g. ../shared/data)")
    parser.add_argument("--out", type=Path, default=MANIFEST_PATH, help="output file (default: the package's)")
    args = parser.parse_args(argv)
    path = write_manifest(args.data_root, args.out)
    for name, record in json.loads(path.read_text())["artifacts"].items():
        print(f"{name}: {len(record['files'])} files, {record['repository']}@{record['commit'][:7]}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
