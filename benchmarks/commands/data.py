"""List, download and verify the registered datasets and the authors' released weights and fused images.

  ivif-bench data list
  ivif-bench data download [NAMES ...] [--data-root DIR] [--ids 1-3]
  ivif-bench data verify [NAMES ...] [--data-root DIR]

NAMES are datasets (tno, flir, ...), artifacts (didfuse_weights, densefuse_weights,
ifcnn_weights: the authors' released weights; didfuse_released, ifcnn_released,
tang_tno_ifcnn: their released fused images), or the groups `weights` (the three
weights artifacts, 7 files, 2.3 MB) and `released` (the fused images). Without
NAMES: everything a complete data root holds, the seven data-root datasets and
every artifact (`--ids` without NAMES: the datasets only).

  ivif-bench data download weights --data-root DIR   # DIDFuse, DenseFuse and IFCNN weights, fetched and verified

The data root is --data-root, else $IVIF_BENCH_DATA, else the user cache dir.
Downloads come from the upstream repositories at pinned commits (mirror:
--base-url or $IVIF_BENCH_DATA_URL) and every file is checked against the
sha256 manifest shipped in the package. `verify` (and `download`, after
fetching) exits 1 when a file is missing or altered, naming it.
"""

from __future__ import annotations

import argparse

#: group names accepted beside dataset and artifact names: group -> artifact kind (datamodules.weights)
GROUPS = {"weights": "weights", "released": "released"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="the registered datasets and artifacts, their sources and sizes")
    for action, help_text in (("download", "fetch missing files of datasets and artifacts into the data root"),
                              ("verify", "check a data root's files against the sha256 manifests")):
        sub = actions.add_parser(action, help=help_text)
        sub.add_argument("names", nargs="*", metavar="NAME",
                         help="datasets, artifacts (e.g. ifcnn_weights), or the groups 'weights' / 'released' "
                              "(default: every data-root dataset and every artifact)")
        sub.add_argument("--data-root", default=None, help="data root (default: $IVIF_BENCH_DATA, else the user cache dir)")
        sub.add_argument("--ids", default=None, help="only these pair ids of each dataset, e.g. 1-3,7 (datasets only)")
        if action == "download":
            sub.add_argument("--base-url", default=None,
                             help="raw-file server (default: $IVIF_BENCH_DATA_URL, else https://raw.githubusercontent.com)")


def _list() -> int:
    from datamodules.datasets import SOURCES, get_dataset, list_datasets
    from datamodules.weights import artifact_files, get_artifact, list_artifacts

    for name in list_datasets():
        spec = get_dataset(name)
        if spec.embedded:
            origin = "embedded in the package"
        else:
            source = SOURCES[spec.source]
            origin = f"{source.repository}@{source.commit[:7]}"
        print(f"{name:<17} {spec.pair_count:>4} pairs  {origin:<47} {spec.description}")
    for name in list_artifacts():
        spec, files = get_artifact(name), artifact_files(name)
        origin = f"{spec.upstream.repository}@{spec.upstream.commit[:7]}"
        size = sum(f.size for f in files) / 1e6
        print(f"{name:<17} {len(files):>4} files  {origin:<47} {spec.kind}, {size:.1f} MB: {spec.description}")
    return 0


def select(names: list[str], ids: str | None = None) -> tuple[list[str] | None, list[str]]:
    """Split NAMES into (datasets, artifacts), expanding the groups; no NAMES: every dataset and artifact.

    Returns:
        ``(datasets or None for the default set, artifacts)``; an empty dataset
        list means "no dataset" (only artifacts were named).

    Raises:
        UserError: an unknown name (the message lists the known ones), or
            ``ids`` with an artifact named (artifacts are fetched whole).
    """
    from datamodules.datasets import list_datasets
    from datamodules.errors import UserError
    from datamodules.weights import list_artifacts

    if not names:
        return None, ([] if ids else list_artifacts())
    datasets, artifacts, unknown = [], [], []
    for name in names:
        if name in GROUPS:
            artifacts += list_artifacts(GROUPS[name])
        elif name in list_artifacts():
            artifacts.append(name)
        elif name in list_datasets():
            datasets.append(name)
        else:
            unknown.append(name)
    if unknown:
        raise UserError(f"unknown dataset {', '.join(unknown)} (nor an artifact or a group); datasets: "
                        f"{', '.join(list_datasets())}; artifacts: {', '.join(list_artifacts())}; "
                        f"groups: {', '.join(GROUPS)}")
    if ids and artifacts:
        raise UserError(f"--ids selects pairs of datasets; artifacts ({', '.join(dict.fromkeys(artifacts))}) are "
                        "fetched and checked whole: name them in a command without --ids")
    return list(dict.fromkeys(datasets)), list(dict.fromkeys(artifacts))


def _statuses(root, datasets: list[str] | None, artifacts: list[str], ids: str | None) -> list:
    """Dataset statuses then artifact statuses (both have ``name``, ``ok``, ``summary()``)."""
    from datamodules.download import verify
    from datamodules.weights import verify_weights

    statuses = list(verify(root, datasets, ids=ids)) if datasets is None or datasets else []
    return statuses + (list(verify_weights(artifacts, root)) if artifacts else [])


def _report(statuses: list, root) -> int:
    for status in statuses:
        print(status.summary())
    bad = [s.name for s in statuses if not s.ok]
    if bad:
        print(f"{len(bad)} dataset(s) / artifact(s) not complete: {', '.join(bad)}; fetch missing or damaged files "
              f"with: ivif-bench data download {' '.join(bad)} --data-root {root}")
        return 1
    return 0


def main(args: argparse.Namespace) -> int:
    from datamodules.datasets import resolve_data_root
    from datamodules.download import DownloadError, download
    from datamodules.errors import UserError
    from datamodules.weights import download_weights

    if args.action == "list":
        return _list()
    datasets, artifacts = select(list(args.names), args.ids)
    root = resolve_data_root(args.data_root)
    if args.action == "download":
        print(f"data root: {root}")
        written = []

        def progress(line: str) -> None:  # one line per file fetched (and checked)
            written.append(line)
            print(f"  fetched {line}")

        steps = [lambda: download(datasets, root, ids=args.ids, base_url=args.base_url, progress=progress)
                 ] if datasets is None or datasets else []
        steps += [lambda: download_weights(artifacts, root, base_url=args.base_url, progress=progress)] if artifacts else []
        failures = []
        for step in steps:  # every file is tried; the failures of both kinds are reported together
            try:
                step()
            except DownloadError as err:
                failures.append(str(err))
        print(f"{len(written)} file(s) fetched")
        if failures:
            raise DownloadError("; ".join(failures))
        return _report(_statuses(root, datasets, artifacts, args.ids), root)
    if not root.is_dir():
        raise UserError(f"the data root {root} does not exist; fill it with: "
                        f"ivif-bench data download {' '.join(args.names)}{' ' if args.names else ''}--data-root {root}")
    print(f"data root: {root}")
    return _report(_statuses(root, datasets, artifacts, args.ids), root)
