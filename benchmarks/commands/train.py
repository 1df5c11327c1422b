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


def build_cli(argv: Sequence[str], run: bool = True):
    """The config interpreter of every command (:func:`benchmarks.profiles.fusion_cli`) with Lightning's ``fit``."""
    from benchmarks.profiles import fusion_cli

    cls = fusion_cli()
    args = ["fit", *argv] if run else list(argv)
    # `ivif-bench train ARGS` hands its ARGS to LightningCLI, which would warn that sys.argv also has them.
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
    return cls(**cls.defaults, save_config_kwargs={"overwrite": True}, args=args, run=run)


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    if not argv:
        argv = ["--help"]
    try:
        build_cli(argv)
    except SystemExit as stop:  # argument errors and --help: jsonargparse has printed the message
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 2)
    return 0
