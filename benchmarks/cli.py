"""``ivif-bench``: the command line.

Each sub-command lives in its own module under :mod:`benchmarks.commands` and
exposes ``add_arguments(parser)`` and ``main(args) -> int``; the first line of
its docstring is its help. A module with ``PASSTHROUGH = True`` (``train``, a
LightningCLI) gets the raw remaining arguments as ``main(argv)`` instead.
Building the parser imports no command's work: ``ivif-bench --help`` and
``ivif-bench data list`` load no torch (``benchmarks/speed/startup.py`` times them).

Plugins (:mod:`benchmarks.plugins`): every command loads the installed
``ivif_bench.plugins`` entry points and each ``--plugin MODULE`` given after the
command, before it runs (not for ``--help``).

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


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, ``PROG: error: MESSAGE (see: PROG --help)``, exit code 2:
    a bad option value (``--max-steps -5``, :mod:`benchmarks.commands.numbers`) is reported without the usage."""

    def error(self, message: str):  # noqa: D102
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def _load(name: str):
    return importlib.import_module(f"benchmarks.commands.{COMMANDS[name]}")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
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
            command_parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                                        help="import MODULE first: it registers methods, metrics, conventions or "
                                             "datasets (repeatable; installed ivif_bench.plugins entry points load "
                                             "anyway)")
    return parser


def take_plugins(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(argv without the --plugin options after the command, the plugin modules)``."""
    rest, plugins = list(argv[:1]), []
    tokens = iter(argv[1:])
    for token in tokens:
        if token == "--plugin":
            plugins.append(next(tokens, ""))
        elif token.startswith("--plugin="):
            plugins.append(token.split("=", 1)[1])
        else:
            rest.append(token)
    return rest, plugins


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    argv, plugins = take_plugins(given)
    if argv and argv[0] in COMMANDS and getattr(_load(argv[0]), "PASSTHROUGH", False):
        return _run(argv[0], plugins, lambda: _load(argv[0]).main(argv[1:]))
    parser = build_parser()
    args = parser.parse_args(argv)
    args.plugin = plugins
    args.argv = given  # the command line as given (after `ivif-bench`): what resumes an interrupted run
    return _run(args.command, plugins, lambda: _load(args.command).main(args))


def _run(command: str, plugins: list[str], call) -> int:
    """Load the plugins and run a command: a user error is one line on stderr and exit code 2; any other
    exception propagates."""
    from datamodules.errors import UserError

    try:
        if any(not p for p in plugins):
            raise UserError("--plugin needs a module name, e.g. --plugin my_package.ivif_plugin")
        from benchmarks.plugins import load_plugins

        load_plugins(plugins)
        code = call()
    except UserError as err:
        print(f"ivif-bench {command}: error: {err}", file=sys.stderr)
        return 2
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
