"""The dataset registry: named IR + VIS pair sets, where their files live, how pairs match.

Every named dataset is a :class:`DatasetSpec`: the upstream repository and
pinned commit its files come from, the folders and file-name patterns inside
that repository, and the number of pairs it must hold. Files live under a data
root in the upstream layout (``<root>/IVIF-DIDFuse/Datasets/...``,
``<root>/RoadScene/...``, ``<root>/VIFB/input/...``,
``<root>/Evaluation-for-Image-Fusion/Image/...``), exactly as ``ivif-bench
data download`` writes them. Each spec records whether its visible images are
colour (``vis_color``).

Pairs are matched by id: for ``IR<k>`` / ``VIS<k>`` files the id is ``k`` as
written (no padding); otherwise the file stem (RoadScene ``FLIR_<n>``, VIFB
``carLight``, Tang's TNO ``01`` .. ``42``). The pair id is
what a fused output is named after. A folder of the user's own is a dataset
too, in any layout of :mod:`datamodules.folders` (``ir/`` + ``vis/``, ``IR/`` +
``VI/``, ``infrared/`` + ``visible/``, or ``IR*`` / ``VIS*`` files side by side).

Example:
    >>> from datamodules import load_pairs
    >>> pairs = load_pairs("sample_tno")
    >>> pairs[0].pair_id, pairs[0].ir_path.name
    ('5', 'IR5.bmp')
"""

from __future__ import annotations

import functools
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .errors import DataNotFoundError, UnknownNameError
from .folders import IMAGE_EXTENSIONS, DatasetError, find_layout, list_images, match_ids, natural_key
from .pairs import Pair, read_pair, read_pair_color

__all__ = [
    "DATA_ENV_VAR",
    "DatasetError",
    "DatasetSpec",
    "IMAGE_EXTENSIONS",
    "MANIFEST_DIR",
    "Pair",
    "SOURCES",
    "Source",
    "dataset_label",
    "get_dataset",
    "list_datasets",
    "dataset_ids",
    "list_images",
    "manifest_pair_id",
    "load_manifest",
    "load_pairs",
    "natural_key",
    "parse_ids",
    "read_pair",
    "read_pair_color",
    "resolve_data_root",
    "scan_pairs",
]

DATA_ENV_VAR = "IVIF_BENCH_DATA"
PACKAGE_DIR = Path(__file__).resolve().parent
MANIFEST_DIR = PACKAGE_DIR / "manifests"
SAMPLE_DIR = PACKAGE_DIR / "sample"


@dataclass(frozen=True)
class Source:
    """An upstream repository whose files a data root holds under ``<root>/<folder>/``.

    Attributes:
        folder: folder name under the data root (the repository's name).
        repository: ``owner/name`` on GitHub.
        commit: the pinned commit every file is downloaded from.
        licence: what the upstream says about the data's terms.
    """

    folder: str
    repository: str
    commit: str
    licence: str

    def raw_url(self, path: str, base_url: str = "https://raw.githubusercontent.com") -> str:
        """URL of one file of the repository at the pinned commit: ``<base>/<owner>/<repo>/<commit>/<path>``."""
        return f"{base_url.rstrip('/')}/{self.repository}/{self.commit}/{path}"


SOURCES: dict[str, Source] = {
    "IVIF-DIDFuse": Source(
        folder="IVIF-DIDFuse",
        repository="Zhaozixiang1228/IVIF-DIDFuse",
        commit="5f287300dce7cbc90b9e08e6872455af6baa279f",
        licence="TNO: figshare, CC BY 4.0; FLIR: FLIR ADAS free dataset licence (as redistributed "
        "by DIDFuse / RoadScene); NIR: EPFL RGB-NIR Scene dataset, research use",
    ),
    "RoadScene": Source(
        folder="RoadScene",
        repository="jiayi-ma/RoadScene",
        commit="3ef68c68ef1294671f033e3080096b314a431872",
        licence="FLIR ADAS free dataset licence; cite Xu et al., FusionDN, AAAI 2020",
    ),
    "VIFB": Source(
        folder="VIFB",
        repository="xingchenzhang/VIFB",
        commit="22b2ea9d91499cc5962d9bdcae9c290270f0fade",
        licence="no licence stated upstream; images collected by VIFB (Zhang, Ye, Xiao, CVPRW 2020) from the "
        "INO video analytics dataset and fusion-tracking datasets, for research use; cite VIFB and its sources",
    ),
    # The 126 image files are identical (git blob hashes) in every commit from 5d6c43a (2022-05-02, the
    # commit that added them) to main's tip 0e87153 (2026-03-02); 5d6c43a is also the code state before
    # the 2023-03-03 rewrite of analysis_Reference.m (7849642), i.e. the `tang2022` convention's.
    "Evaluation-for-Image-Fusion": Source(
        folder="Evaluation-for-Image-Fusion",
        repository="Linfeng-Tang/Evaluation-for-Image-Fusion",
        commit="5d6c43a68850409e1ec67d56de1827113064a19a",
        licence="TNO Image Fusion Dataset (Toet), figshare, CC BY 4.0, as redistributed by Tang's "
        "evaluation code (no licence stated for the repository)",
    ),
}


@dataclass(frozen=True)
class DatasetSpec:
    """One named dataset.

    Attributes:
        name: registry name (``tno``, ``flir_train``, ...).
        description: one line for ``ivif-bench data list``.
        source: key of :data:`SOURCES`, or ``None`` for a dataset shipped inside the package.
        ir_dir, vis_dir: folders holding the IR / VIS files, relative to the
            source folder (or to the package's ``sample/`` folder).
        ir_pattern, vis_pattern: regular expressions matching a whole file
            name; group 1 is the pair id.
        pair_count: the number of pairs the dataset holds.
        manifest: name of the sha256 manifest (``manifests/<name>.json``)
            listing the files; subsets share their parent's.
        ids: a fixed subset of the manifest's pairs (``tno_gan_train``), or
            ``None`` for all of them.
        ids_from_manifest: a key of the manifest holding the subset's ids
            (``roadscene_test``), computed by ``python -m datamodules.manifest``.
        vis_color: the visible images are colour (RGB files whose channels
            differ); ``False`` for gray files and for RGB files whose three
            channels are equal (Tang's TNO copies).
        resize_vis: the VIS images are registered to the IR crop at a higher
            resolution; :func:`read_pair` resizes them to the IR size (no
            shipped dataset needs it: RoadScene uses ``crop_LR_visible``, the IR size).
        use: which paper uses it, and how.
    """

    name: str
    description: str
    source: str | None
    ir_dir: str
    vis_dir: str
    ir_pattern: str
    vis_pattern: str
    pair_count: int
    manifest: str
    ids: tuple[str, ...] | None = None
    ids_from_manifest: str | None = None
    vis_color: bool = False
    resize_vis: bool = False
    use: str = ""

    @property
    def embedded(self) -> bool:
        """``True`` for the sample datasets shipped inside the package (no data root needed)."""
        return self.source is None

    def folder(self, data_root: Path) -> Path:
        """The folder the dataset's paths are relative to."""
        return SAMPLE_DIR if self.embedded else data_root / SOURCES[self.source].folder


def _numbered(prefix: str, ext: str) -> str:
    return rf"{prefix}(\d+)\.{ext}"


_TNO = dict(source="IVIF-DIDFuse", ir_dir="Datasets/Test_data_TNO", vis_dir="Datasets/Test_data_TNO",
            ir_pattern=_numbered("IR", "bmp"), vis_pattern=_numbered("VIS", "bmp"), manifest="tno")

_REGISTRY: dict[str, DatasetSpec] = {}


def _register(spec: DatasetSpec) -> None:
    _REGISTRY[spec.name] = spec


#: manifest name -> the file a plugin ships (``register_dataset``; the built-in manifests are in :data:`MANIFEST_DIR`)
_MANIFEST_FILES: dict[str, Path] = {}



_register(DatasetSpec(
    name="tno", description="TNO test set of DIDFuse: 40 gray pairs, 256x256 to 768x576 (BMP)",
    pair_count=40, use="test set of DIDFuse / NormFuse", **_TNO))
_register(DatasetSpec(
    name="flir", description="FLIR test set of DIDFuse: 40 gray pairs (JPEG)",
    source="IVIF-DIDFuse", ir_dir="Datasets/Test_data_FLIR", vis_dir="Datasets/Test_data_FLIR",
    ir_pattern=_numbered("IR", "jpg"), vis_pattern=_numbered("VIS", "jpg"), manifest="flir",
    pair_count=40, use="test set of DIDFuse"))
_register(DatasetSpec(
    name="nir", description="RGB-NIR Scene 'country' test set of DIDFuse: 52 pairs, near infrared + gray (PNG)",
    source="IVIF-DIDFuse", ir_dir="Datasets/Test_data_NIR_Country", vis_dir="Datasets/Test_data_NIR_Country",
    ir_pattern=_numbered("IR", "png"), vis_pattern=_numbered("VIS", "png"), manifest="nir",
    pair_count=52, use="test set of DIDFuse"))
_register(DatasetSpec(
    name="flir_train", description="FLIR training set of DIDFuse: 180 RoadScene pairs, IR gray + VIS RGB (JPEG)",
    source="IVIF-DIDFuse", ir_dir="Datasets/Train_data_FLIR/IR/IR", vis_dir="Datasets/Train_data_FLIR/VIS/VIS",
    ir_pattern=_numbered("IR", "jpg"), vis_pattern=_numbered("VIS", "jpg"), manifest="flir_train",
    pair_count=180, vis_color=True, use="training set of DIDFuse and NormFuse (centre crop 128)"))
_ROADSCENE = dict(source="RoadScene", ir_dir="cropinfrared", vis_dir="crop_LR_visible",
                  ir_pattern=r"(FLIR_(?:video_)?\d+)\.jpg", vis_pattern=r"(FLIR_(?:video_)?\d+)\.jpg",
                  manifest="roadscene", vis_color=True)
_register(DatasetSpec(
    name="roadscene",
    description="RoadScene: 221 aligned FLIR road pairs, IR gray + VIS colour of the same size (crop_LR_visible, JPEG)",
    pair_count=221, use="NormFuse's training source (180) and test set (37)", **_ROADSCENE))
_register(DatasetSpec(
    name="roadscene_test",
    description="the 41 RoadScene pairs whose IR is not pixel-identical to a flir_train pair",
    pair_count=41, ids_from_manifest="test_ids",
    use="a RoadScene test set disjoint from flir_train (NormFuse tests on 37 unnamed pairs)", **_ROADSCENE))
_register(DatasetSpec(
    name="vifb",
    description="VIFB: 21 pairs, VIS colour + IR (17 stored as RGB with equal channels, 4 gray), JPEG",
    source="VIFB", ir_dir="input/IR", vis_dir="input/VI", ir_pattern=r"(.+)\.jpg", vis_pattern=r"(.+)\.jpg",
    manifest="vifb", pair_count=21, vis_color=True,
    use="the VIFB benchmark's test set (Zhang et al., CVPRW 2020), evaluated by its metrics*.m"))
_register(DatasetSpec(
    name="tang_tno",
    description="Tang's 42 TNO pairs (01..42), gray images stored as RGB PNGs with equal channels",
    source="Evaluation-for-Image-Fusion", ir_dir="Image/Source-Image/TNO/ir", vis_dir="Image/Source-Image/TNO/vi",
    ir_pattern=r"(\d+)\.png", vis_pattern=r"(\d+)\.png", manifest="tang_tno", pair_count=42,
    use="the TNO test set of SeAFusion / PIAFusion, evaluated by Tang's analysis_Reference.m"))
_register(DatasetSpec(
    name="tno_gan_train", description="TNO pairs k = 1..30: the two-layer GAN's training split",
    pair_count=30, ids=tuple(str(k) for k in range(1, 31)), use="two-layer GAN training (128 patches, stride 12)",
    **_TNO))
_register(DatasetSpec(
    name="tno_gan_test", description="TNO pairs k = 31..40: the two-layer GAN's test split",
    pair_count=10, ids=tuple(str(k) for k in range(31, 41)), use="two-layer GAN test", **_TNO))
for _name, _ext, _count, _what in (("tno", "bmp", 3, "TNO"), ("flir", "jpg", 3, "FLIR"), ("nir", "png", 2, "NIR")):
    _register(DatasetSpec(
        name=f"sample_{_name}", description=f"{_count} real {_what} pairs shipped inside the package (no download)",
        source=None, ir_dir=_name, vis_dir=_name, ir_pattern=_numbered("IR", _ext),
        vis_pattern=_numbered("VIS", _ext), manifest=f"sample_{_name}", pair_count=_count,
        use="smoke runs and tests on a fresh machine"))
_register(DatasetSpec(
    name="sample_flir_train",
    description="flir_train pairs 1-8 shipped inside the package: IR gray + VIS colour (JPEG, no download)",
    source=None, ir_dir="flir_train", vis_dir="flir_train", ir_pattern=_numbered("IR", "jpg"),
    vis_pattern=_numbered("VIS", "jpg"), manifest="sample_flir_train", pair_count=8, vis_color=True,
    use="training data of every method's smoke / quick profile on a fresh machine (the smoke configs' "
        "train_ids 1-8 are these pairs)"))


def list_datasets(embedded: bool | None = None) -> list[str]:
    """Registered dataset names, in registry order.

    Args:
        embedded: ``True`` only the samples shipped in the package, ``False``
            only the data-root ones, ``None`` all.
    """
    return [n for n, s in _REGISTRY.items() if embedded is None or s.embedded == embedded]


def get_dataset(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` registered as ``name``; ``KeyError`` lists the known names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownNameError(f"unknown dataset {name!r}; known datasets: {', '.join(_REGISTRY)}") from None


def resolve_data_root(data_root: str | os.PathLike | None = None) -> Path:
    """The data root: ``data_root`` if given, else ``$IVIF_BENCH_DATA``, else the user cache dir.

    The cache dir is ``platformdirs.user_cache_path("ivif-bench") / "data"``
    (``~/.cache/ivif-bench/data`` on Linux). The folder need not exist yet.
    """
    if data_root is None or str(data_root) == "":
        data_root = os.environ.get(DATA_ENV_VAR) or None
    if data_root is None:
        import platformdirs

        return platformdirs.user_cache_path("ivif-bench") / "data"
    return Path(data_root).expanduser().resolve()


@functools.lru_cache(maxsize=None)
def load_manifest(name: str) -> dict:
    """The shipped manifest ``manifests/<name>.json``: source, commit, ``files`` (path -> sha256, size), extras."""
    path = _MANIFEST_FILES.get(name, MANIFEST_DIR / f"{name}.json")
    if not path.is_file():
        raise DatasetError(f"{path}: the manifest of dataset {name!r} is missing from the package")
    return json.loads(path.read_text())


def parse_ids(ids: str | int | Iterable[str | int] | None) -> list[str] | None:
    """Parse a pair-id selection: ``"1-8,12"``, ``["FLIR_00006", 3]`` or ``None`` (all).

    Ranges ``a-b`` of integers expand to ``a, ..., b`` (no padding; ``01-03``,
    both ends zero-padded to one width, keeps it: ``01, 02, 03``); anything
    else is taken literally.
    """
    if ids is None:
        return None
    if isinstance(ids, int):
        tokens = [str(ids)]
    elif isinstance(ids, str):
        tokens = [t.strip() for t in ids.split(",")]
    else:
        tokens = [str(t).strip() for t in ids]
    out: list[str] = []
    for token in tokens:
        if not token:
            continue
        match = re.fullmatch(r"(\d+)\s*-\s*(\d+)", token)
        if match:
            first, last = int(match[1]), int(match[2])
            if last < first:
                raise DatasetError(f"pair-id range {token!r} is empty (end before start)")
            # zero-padded ends keep their width ("01-03" -> 01, 02, 03: tang_tno's ids)
            width = len(match[1]) if match[1].startswith("0") and len(match[1]) == len(match[2]) else 0
            out.extend(f"{k:0{width}d}" for k in range(first, last + 1))
        else:
            out.append(token)
    if not out:
        raise DatasetError(f"pair-id selection {ids!r} selects nothing")
    return list(dict.fromkeys(out))


def dataset_label(name_or_path: str | os.PathLike) -> str:
    """The name a dataset's results are logged under: the registry name, or a folder's name."""
    text = str(name_or_path)
    return text if text in _REGISTRY else Path(text).expanduser().resolve().name


def _pair_up(ir: dict[str, Path], vis: dict[str, Path], dataset: str, resize_vis: bool,
             ir_folder: Path, vis_folder: Path) -> list[Pair]:
    for ids, role, folder, partner in ((ir, "IR", vis_folder, vis), (vis, "VIS", ir_folder, ir)):
        missing = sorted(set(ids) - set(partner), key=natural_key)
        if missing:
            example = ids[missing[0]]
            other = "VIS" if role == "IR" else "IR"
            raise DatasetError(
                f"{example}: missing partner, no {other} image with pair id {missing[0]!r} in {folder}"
                + (f" ({len(missing)} {role} files lack a partner)" if len(missing) > 1 else "")
            )
    if not ir:
        raise DatasetError(f"{ir_folder}: no IR / VIS image pairs found")
    return [Pair(i, ir[i], vis[i], dataset, resize_vis) for i in sorted(ir, key=natural_key)]


def _folder_pairs(folder: Path) -> list[Pair]:
    """Pairs of a user's folder, in any layout :func:`datamodules.folders.find_layout` accepts."""
    layout = find_layout(folder)
    return _pair_up(layout.ir, layout.vis, folder.resolve().name, False, layout.ir_folder, layout.vis_folder)


def _missing_message(spec: DatasetSpec, root: Path, what: str) -> str:
    return (f"dataset {spec.name!r}: {what}; fill it with: "
            f"ivif-bench data download {spec.name} --data-root {root}")


def manifest_pair_id(spec: DatasetSpec, path: str) -> str | None:
    """The pair id of a manifest path (relative to the source folder), or ``None`` if not one of ``spec``'s files."""
    folder, _, name = path.rpartition("/")
    for directory, pattern in ((spec.ir_dir, spec.ir_pattern), (spec.vis_dir, spec.vis_pattern)):
        match = re.fullmatch(pattern, name, re.IGNORECASE)
        if match and folder == directory:
            return match[1]
    return None


def dataset_ids(name: str) -> list[str]:
    """Every pair id of a registered dataset, from its shipped manifest, in natural order."""
    spec = get_dataset(name)
    manifest = load_manifest(spec.manifest)
    ids = {manifest_pair_id(spec, path) for path in manifest["files"]} - {None}
    if spec.ids is not None:
        ids &= set(spec.ids)
    if spec.ids_from_manifest:
        ids &= set(manifest[spec.ids_from_manifest])
    return sorted(ids, key=natural_key)


def _registered_pairs(spec: DatasetSpec, data_root: str | os.PathLike | None,
                      selection: list[str] | None, scan: bool = False) -> list[Pair]:
    """The pairs of ``spec``: every id of its manifest (or, with ``scan``, every pair its folders hold)."""
    root = resolve_data_root(data_root) if not spec.embedded else SAMPLE_DIR
    if not spec.embedded and not root.is_dir():
        raise DataNotFoundError(_missing_message(spec, root, f"the data root {root} does not exist"))
    known = [] if scan else dataset_ids(spec.name)
    if selection is not None:
        unknown = [i for i in selection if i not in set(known)]
        if unknown:
            raise DatasetError(f"dataset {spec.name!r} has no pair with id {', '.join(map(repr, unknown[:5]))} "
                               f"(its ids run {known[0]} .. {known[-1]})")
    base = spec.folder(root)
    ir_folder, vis_folder = base / spec.ir_dir, base / spec.vis_dir
    for folder in dict.fromkeys((ir_folder, vis_folder)):
        if not folder.is_dir():
            raise DataNotFoundError(_missing_message(spec, root, f"folder {folder} does not exist"))
    listing = {folder: list_images(folder) for folder in dict.fromkeys((ir_folder, vis_folder))}
    ir = match_ids(listing[ir_folder], ir_folder, spec.ir_pattern, "IR")
    vis = match_ids(listing[vis_folder], vis_folder, spec.vis_pattern, "VIS")
    used = {*ir.values(), *vis.values()}
    for folder, images in listing.items():
        stray = [p.name for p in images if p not in used]
        if stray:
            warnings.warn(f"{folder}: ignored {len(stray)} image(s) that are not part of dataset "
                          f"{spec.name!r}: {', '.join(stray[:5])}", stacklevel=3)
    if selection is not None:  # a partial root may hold other, incomplete pairs
        ir = {i: p for i, p in ir.items() if i in selection}
        vis = {i: p for i, p in vis.items() if i in selection}
    try:
        pairs = {p.pair_id: p for p in _pair_up(ir, vis, spec.name, spec.resize_vis, ir_folder, vis_folder)} \
            if ir or vis else {}
    except DatasetError as err:
        raise DatasetError(_missing_message(spec, root, str(err))) from None
    if scan:
        known = sorted((i for i in pairs if spec.ids is None or i in spec.ids), key=natural_key)
    wanted = known if selection is None else selection
    absent = [i for i in wanted if i not in pairs]
    if absent:
        raise DataNotFoundError(_missing_message(
            spec, root, f"{len(absent)} of its {len(wanted)} pairs are missing in {ir_folder} "
            f"(ids {', '.join(absent[:5])}{' ...' if len(absent) > 5 else ''})"))
    return [pairs[i] for i in wanted]


def scan_pairs(name: str, data_root: str | os.PathLike) -> list[Pair]:
    """Every pair the folders of registered dataset ``name`` hold under ``data_root``, without its manifest.

    For maintainers writing the manifests (:mod:`datamodules.manifest`); users call :func:`load_pairs`.
    """
    return _registered_pairs(get_dataset(name), data_root, None, scan=True)


def load_pairs(
    name_or_path: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    ids: str | Iterable[str | int] | None = None,
) -> list[Pair]:
    """The pairs of a registered dataset or of a folder, in natural id order.

    A registered dataset must hold every pair its manifest lists (or, with
    ``ids``, every pair selected; a root filled by ``ivif-bench data download
    NAME --ids ...`` serves that selection).

    Args:
        name_or_path: a registered name (:func:`list_datasets`) or a folder in
            a layout of :mod:`datamodules.folders` (``ir/`` + ``vis/``, ``IR/`` +
            ``VI/``, ``infrared/`` + ``visible/``, ``IR*`` / ``VIS*`` files).
        data_root: where registered datasets live (see :func:`resolve_data_root`).
        ids: keep only these pair ids (``"1-8,12"`` or a list); ``None`` keeps all.

    Returns:
        list of :class:`Pair`; no image is decoded (see :func:`read_pair`).

    Raises:
        FileNotFoundError: missing data root, dataset folder or pairs (the
            message gives the ``ivif-bench data download`` command that fills it).
        DatasetError: a folder that fits no layout (the message names what it
            holds), missing partner, unknown requested id.
        KeyError: neither a registered name nor an existing folder.
    """
    text = str(name_or_path)
    selection = parse_ids(ids)
    if selection is not None:
        selection = sorted(selection, key=natural_key)
    if text in _REGISTRY:
        return _registered_pairs(_REGISTRY[text], data_root, selection)
    if not (Path(text).expanduser().exists() or os.sep in text or "/" in text):
        raise UnknownNameError(f"unknown dataset {text!r}: not a registered name ({', '.join(_REGISTRY)}) "
                       "and not an existing folder")
    pairs = _folder_pairs(Path(text).expanduser())
    if selection is not None:
        have = {p.pair_id: p for p in pairs}
        unknown = [i for i in selection if i not in have]
        if unknown:
            raise DatasetError(f"dataset {dataset_label(text)!r} has no pair with id "
                               f"{', '.join(map(repr, unknown[:5]))} (ids run {pairs[0].pair_id} .. {pairs[-1].pair_id})")
        pairs = [have[i] for i in selection]
    return pairs
