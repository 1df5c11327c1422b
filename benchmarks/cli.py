"""``ivif-bench``: the command line.

Each sub-command lives in its own module under :mod:`benchmarks.commands` and
exposes ``add_arguments(parser)`` and ``main(args) -> int``; the first line of
its docstring is its help. A module with ``PASSTHROUGH = True`` (``train``, a
LightningCLI) gets the raw remaining arguments as ``main(argv)`` instead.
Building the parser imports no command's work: ``ivif-bench --help`` and
``ivif-bench data list`` load no torch (``benchmarks/speed/startup.py`` times them).

Errors: a :class:`datamodules.errors.UserError` (bad input, a missing dataset,
a run dir in use) is printed as one line ``ivif-bench <command>: error: ...``
with exit code 2; anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

# command name -> module under benchmarks.commands (add one line per command)
COMMANDS: dict[str, str] = {
    "train": "train",
    "fuse": "fuse",
    "evaluate": "evaluate",
    "data": "data",
    "run": "run",
    "leaderboard": "leaderboard",
    "plot": "plot",
    "repro": "repro",
    "repro-merge": "repro_merge",
}


def _load(name: str):
    return importlib.import_module(f"benchmarks.commands.{COMMANDS[name]}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ivif-bench",
        description="Benchmark infrared + visible image fusion methods: train, fuse, evaluate, compare.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = _load(name)
        summary = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
        command_parser = sub.add_parser(name, help=summary, description=module.__doc__,
                                        formatter_class=argparse.RawDescriptionHelpFormatter,
                                        add_help=not getattr(module, "PASSTHROUGH", False))
        if not getattr(module, "PASSTHROUGH", False):
            module.add_arguments(command_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS and getattr(_load(argv[0]), "PASSTHROUGH", False):
        return _run(argv[0], lambda: _load(argv[0]).main(argv[1:]))
    parser = build_parser()
    args = parser.parse_args(argv)
    return _run(args.command, lambda: _load(args.command).main(args))


def _run(command: str, call) -> int:
    """Run a command: a user error is one line on stderr and exit code 2; any other exception propagates."""
    from datamodules.errors import UserError

    try:
        code = call()
    except UserError as err:
        print(f"ivif-bench {command}: error: {err}", file=sys.stderr)
        return 2
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
