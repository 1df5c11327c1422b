"""Messages that say what to do: numeric options checked before anything is created, config errors as one line
naming the file and the key with a help command that exists, Ctrl-C printing the command that resumes (#16 item 4)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from benchmarks import profiles
from benchmarks.cli import main as cli
from benchmarks.report.results import RunLayout

REPO = Path(__file__).resolve().parents[2]
SMOKE = Path(profiles.__file__).parent / "configs" / "didfuse" / "smoke.yaml"


def _refused(args: list[str], capsys) -> str:
    """Run the CLI; it must stop with exit code 2 and one line on stderr, no traceback; returns that line."""
    try:
        code = cli(args)
    except SystemExit as stop:  # argparse refuses a value while parsing
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    return err


RUN = ["run", "--methods", "average", "--datasets", "sample_tno", "--profile", "smoke", "--wandb", "disabled",
       "--no-plots", "--no-progress"]
REPRO = ["repro", "--method", "didfuse", "--datasets", "sample_tno", "--profile", "smoke", "--wandb", "disabled"]


@pytest.mark.parametrize("command, option, value, message", [
    (RUN, "--max-steps", "-5", "argument --max-steps: must be an integer >= 1; got '-5'"),
    (RUN, "--max-steps", "0", "argument --max-steps: must be an integer >= 1"),
    (RUN, "--seed", "-1", "--seed: '-1': a seed is an integer 0..4294967295 (got -1)"),
    (RUN, "--seed", "4294967296", "a seed is an integer 0..4294967295"),
    (RUN, "--seed", "1,1", "--seed: '1,1' lists a seed twice"),
    (RUN, "--checkpoint-every", "0", "argument --checkpoint-every: must be an integer >= 1"),
    (RUN, "--limit-pairs", "0", "argument --limit-pairs: must be an integer >= 1"),
    (RUN, "--num-nodes", "0", "argument --num-nodes: must be an integer >= 1"),
    (RUN, "--devices", "0", "argument --devices: must be a number of devices >= 1"),
    (REPRO, "--runs", "0", "argument --runs: must be an integer >= 1"),
    (REPRO, "--seed0", "-3", "argument --seed0: must be a seed, an integer 0..4294967295; got '-3'"),
    (REPRO, "--cpus-per-run", "0", "argument --cpus-per-run: must be an integer >= 1"),
    (REPRO, "--gpus-per-run", "-1", "argument --gpus-per-run: must be a finite number >= 0"),
    (REPRO, "--ray-num-cpus", "0", "argument --ray-num-cpus: must be an integer >= 1"),
    (REPRO, "--max-steps", "-5", "argument --max-steps: must be an integer >= 1"),
    (REPRO, "--limit-pairs", "x", "argument --limit-pairs: must be an integer >= 1; got 'x'"),
])
def test_every_numeric_option_is_checked_before_anything_is_created(tmp_path, capsys, command, option, value,
                                                                      message):
    out = tmp_path / "out"
    err = _refused([*command, "--out", str(out), option, value], capsys)
    assert message in err and err.startswith(f"ivif-bench {command[0]}: error: "), err
    assert "usage:" not in err and not out.exists()


def test_config_errors_name_the_file_and_key_first_with_a_help_command_that_exists(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMOKE.read_text(encoding="utf-8").replace("    lr: 0.001\n", "    lrr: 0.001\n"), encoding="utf-8")
    err = _refused(["train", "--config", str(bad)], capsys)
    assert err == (f"ivif-bench train: error: {bad}: model.init_args.lrr: unknown key for "
                   "lightning_modules.didfuse.DIDFuse (did you mean 'lr'?); its keys: ivif-bench train --model.help "
                   "lightning_modules.didfuse.DIDFuse\n")
    assert "fit --help" not in err
    assert cli(["train", "--model.help", "lightning_modules.didfuse.DIDFuse"]) == 0  # the help command exists
    assert "--model.lr LR" in capsys.readouterr().out

    err = _refused(["train", "--config", str(SMOKE), "--trainer.max_steps", "-5"], capsys)
    assert "command line: trainer.max_steps: must be -1 (no limit) or an integer >= 1; got -5" in err
    err = _refused(["train", "--config", str(SMOKE), "--seed_everything", "-5"], capsys)
    assert "seed_everything: must be true / false or a seed 0..4294967295; got -5" in err
    err = _refused(["train", "--config", str(SMOKE), "--trainer.max_stepz", "3"], capsys)
    assert "--trainer.max_stepz: unknown option (did you mean '--trainer.max_steps'?); the options: ivif-bench " \
           "train --help" in err
    err = _refused(["train", "--config", str(SMOKE), "--data.init_args.crop_size", "big"], capsys)
    assert "data.init_args.crop_size: expected int, got 'big'; its keys: ivif-bench train --data.help " \
           "datamodules.FusionDataModule" in err
    assert _refused(["train", "--config", str(tmp_path / "none.yaml")], capsys).endswith(
        f"{tmp_path / 'none.yaml'}: no such config file\n")


def test_ctrl_c_prints_the_command_that_resumes_and_the_run_resumes(tmp_path):
    """A real run, interrupted by SIGINT during training; the command it prints finishes the run from its state."""
    out = tmp_path / "run"
    args = ["run", "--methods", "fusiongan", "--datasets", "sample_tno", "--profile", "smoke", "--limit-pairs", "1",
            "--metrics", "EN", "--max-steps", "150", "--checkpoint-every", "10", "--wandb", "disabled", "--no-plots",
            "--no-progress", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.cli", *args], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    last = RunLayout(out).last_checkpoint("fusiongan", 0)
    try:
        deadline = time.monotonic() + 240
        while not last.is_file():
            assert process.poll() is None, process.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "no checkpoint in 240 s"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=240)
    finally:
        process.kill()
    assert process.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr
    assert "ivif-bench run: interrupted (Ctrl-C); finished units and checkpoints are kept in" in stderr
    command = re.search(r"Resume with:\n  (.+)\n", stderr).group(1)
    assert command == f"cd {REPO} && {sys.executable} -m benchmarks.cli {' '.join(args)}"
    layout = RunLayout(out)
    assert layout.interrupted_checkpoint("fusiongan", 0).is_file() and not layout.final_checkpoint("fusiongan", 0).exists()
    assert '"status": "interrupted"' in layout.provenance.read_text()

    resumed = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"training (smoke profile), resuming from {layout.checkpoint_dir('fusiongan', 0)}" in resumed.stdout
    results = pd.read_csv(layout.results, dtype={"image": str})
    assert set(results.method) == {"average", "max", "fusiongan"}
    assert '"status": "finished"' in layout.provenance.read_text()
