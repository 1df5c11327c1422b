"""List, download and verify the registered datasets.

  ivif-bench data list
  ivif-bench data download [NAMES ...] [--data-root DIR] [--ids 1-3]
  ivif-bench data verify [NAMES ...] [--data-root DIR]

The data root is --data-root, else $IVIF_BENCH_DATA, else the user cache dir.
Downloads come from the upstream repositories at pinned commits (mirror:
--base-url or $IVIF_BENCH_DATA_URL) and every file is checked against the
sha256 manifest shipped in the package. `verify` exits 1 when a file is
missing or altered, naming it.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="the registered datasets, their sources and pair counts")
    for action, help_text in (("download", "fetch missing files of datasets into the data root"),
                              ("verify", "check a data root's files against the sha256 manifests")):
        sub = actions.add_parser(action, help=help_text)
        sub.add_argument("names", nargs="*", metavar="NAME",
                         help="datasets (default: tno flir nir flir_train roadscene)")
        sub.add_argument("--data-root", default=None, help="data root (default: $IVIF_BENCH_DATA, else the user cache dir)")
        sub.add_argument("--ids", default=None, help="only these pair ids of each dataset, e.g. 1-3,7")
        if action == "download":
            sub.add_argument("--base-url", default=None,
                             help="raw-file server (default: $IVIF_BENCH_DATA_URL, else https://raw.githubusercontent.com)")


def _list() -> int:
    from datamodules.datasets import SOURCES, get_dataset, list_datasets

    for name in list_datasets():
        spec = get_dataset(name)
        if spec.embedded:
            origin = "embedded in the package"
        else:
            source = SOURCES[spec.source]
            origin = f"{source.repository}@{source.commit[:7]}"
        print(f"{name:<15} {spec.pair_count:>4} pairs  {origin:<38} {spec.description}")
    return 0


def _check_names(names: list[str]) -> list[str] | None:
    from datamodules.errors import UserError
    from datamodules.datasets import list_datasets

    unknown = [n for n in names if n not in list_datasets()]
    if unknown:
        raise UserError(f"unknown dataset {', '.join(unknown)}; known: {', '.join(list_datasets())}")
    return names or None


def main(args: argparse.Namespace) -> int:
    from datamodules.errors import UserError
    from datamodules.datasets import resolve_data_root
    from datamodules.download import download, verify

    if args.action == "list":
        return _list()
    names = _check_names(list(args.names))
    root = resolve_data_root(args.data_root)
    if args.action == "download":
        print(f"data root: {root}")
        written = download(names, root, ids=args.ids, base_url=args.base_url, progress=lambda line: print(f"  fetched {line}"))
        print(f"{len(written)} file(s) fetched")
        for status in verify(root, names, ids=args.ids):
            print(status.summary())
        return 0
    if not root.is_dir():
        raise UserError(f"the data root {root} does not exist; fill it with: "
                        f"ivif-bench data download {' '.join(names or [])}{' ' if names else ''}--data-root {root}")
    statuses = verify(root, names, ids=args.ids)
    print(f"data root: {root}")
    for status in statuses:
        print(status.summary())
    bad = [s.name for s in statuses if not s.ok]
    if bad:
        print(f"{len(bad)} dataset(s) not complete: {', '.join(bad)}; fetch missing or damaged files with: "
              f"ivif-bench data download {' '.join(bad)} --data-root {root}")
        return 1
    return 0
