"""Train a fusion method from a LightningCLI config (Lightning's `fit`).

  ivif-bench train --config benchmarks/configs/didfuse/quick.yaml
  ivif-bench train --config FILE --trainer.max_steps 3 --trainer.default_root_dir runs/try
  ivif-bench train --config FILE --model.init_args.lr 1e-4 --data.init_args.data_root ../shared/data
  ivif-bench train --help

Every argument is Lightning's CLI (`LightningCLI` with the `fit` subcommand): the
YAML holds `seed_everything`, `trainer`, `model` and `data` (`class_path` +
`init_args`), and `--section.key value` overrides any entry. The resolved config
is saved beside the checkpoints (`config.yaml`) and the path of the last
checkpoint is printed at the end; fuse with it:

  ivif-bench fuse --method didfuse --ckpt CHECKPOINT --dataset tno --out fused/
"""

from __future__ import annotations

import warnings
from typing import Sequence

PASSTHROUGH = True


def _config_files(argv: Sequence[str]) -> list[str]:
    """The ``--config`` / ``-c`` files named on a ``train`` command line, in order."""
    files, tokens = [], iter(argv)
    for token in tokens:
        if token in ("--config", "-c"):
            files.append(next(tokens, ""))
        elif token.startswith("--config="):
            files.append(token.split("=", 1)[1])
    return [f for f in files if f]


def _parser_class():
    """LightningCLI's parser, whose errors raise :class:`benchmarks.config_errors.ConfigError` instead of printing
    the usage (about 45 lines) and a help command of the wrong program."""
    from lightning.pytorch.cli import LightningArgumentParser

    from benchmarks.config_errors import ConfigError

    class OneLineConfigParser(LightningArgumentParser):
        def error(self, message: str, ex: Exception | None = None):  # noqa: D102
            raise ConfigError(message) from ex

    return OneLineConfigParser


def build_cli(argv: Sequence[str], run: bool = True):
    """The config interpreter of every command (:func:`benchmarks.profiles.fusion_cli`) with Lightning's ``fit``.

    Raises:
        ConfigError: a bad config or option, as one line: the YAML file (or the command line), the key, a
            hint and a help command (:func:`benchmarks.config_errors.explain`).
    """
    from benchmarks.config_errors import ConfigError, explain
    from benchmarks.profiles import fusion_cli

    cls = fusion_cli()
    args = ["fit", *argv] if run else list(argv)
    where = ", ".join(_config_files(argv)) or "command line"
    # `ivif-bench train ARGS` hands its ARGS to LightningCLI, which would warn that sys.argv also has them.
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
    try:
        return cls(**cls.defaults, save_config_kwargs={"overwrite": True}, args=args, run=run,
                   parser_class=_parser_class(), where=where)
    except ConfigError as err:
        text = str(err)
        line = text if text.startswith((f"{where}: ", "command line")) else explain(text, where, _classes(argv))
        given = line[len(where) + 2:].split(":", 1)[0] if line.startswith(f"{where}: ") else ""
        options = {token.split("=", 1)[0] for token in argv}
        if given and ({f"--{given}", f"--{given.replace('.init_args.', '.')}"} & options):
            line = "command line: " + line[len(where) + 2:]  # the bad value came from an option, not the file
        raise ConfigError(line) from None


def _classes(argv: Sequence[str]) -> dict[str, str]:
    """``{"model": class_path, "data": class_path}`` as the command line's config files (the last one) name them."""
    import yaml

    classes: dict[str, str] = {}
    for path in _config_files(argv):
        try:
            with open(path, encoding="utf-8") as handle:
                config = yaml.safe_load(handle) or {}
        except (OSError, yaml.YAMLError):
            continue
        for section in ("model", "data"):
            spec = config.get(section) if isinstance(config, dict) else None
            spec = {"class_path": spec} if isinstance(spec, str) else spec
            if isinstance(spec, dict) and isinstance(spec.get("class_path"), str):
                classes[section] = spec["class_path"]
    return classes


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    if not argv:
        argv = ["--help"]
    try:
        build_cli(argv)
    except SystemExit as stop:  # --help (and Lightning's own exits): jsonargparse has printed what it had to
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)
    return 0
