"""The notebooks, executed top to bottom on a smoke run dir and a 2-run study made here.

The run dir: `ivif-bench run --profile smoke` with average, max and DIDFuse on
two tiny test sets, 96 x 128 centre crops of real TNO and FLIR pairs 1-2. The
study: `ivif-bench repro --method didfuse --runs 2` (1 training step per run)
on the same sets, ranked against average and max; the run dir's DIDFuse is the
study's seed-0 checkpoint. Each notebook runs in a Jupyter kernel of
this interpreter (a python3 kernelspec installed into a temp dir); a cell that
raises fails the test, and the outputs must show the run's tables and figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from benchmarks import cli
from benchmarks.report.facts import read_facts
from benchmarks.report.leaderboard import per_image_table
from benchmarks.report.results import read_results
from benchmarks.study import StudyError, read_study
from datamodules.datasets import load_pairs, read_pair
from datamodules.io import save_png, to_tensor

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
METRICS = "EN,SD,SF,AG,MSE"  # cheap; MSE ranks down
ENV = {"leaderboard": "IVIF_BENCH_RUN_DIR", "reproducibility": "IVIF_BENCH_STUDY_DIR"}


@pytest.fixture(scope="session")
def tiny_sets(tmp_path_factory, data_root) -> list[str]:
    """Two folder test sets, ``tno`` and ``flir``: 96 x 128 centre crops of pairs 1-2 (real pixels)."""
    root = tmp_path_factory.mktemp("notebook_sets")
    for name in ("tno", "flir"):
        for pair in load_pairs(name, data_root, "1-2"):
            ir, vis = read_pair(pair)
            top, left = (ir.shape[0] - 96) // 2, (ir.shape[1] - 128) // 2
            for role, image in (("ir", ir), ("vis", vis)):
                save_png(root / name / role / f"{pair.pair_id}.png", to_tensor(image[top:top + 96, left:left + 128])[0])
    return [str(root / "tno"), str(root / "flir")]


def _common(data_root) -> list[str]:
    return ["--data-root", str(data_root), "--profile", "smoke", "--max-steps", "1", "--metrics", METRICS,
            "--wandb", "disabled", "--no-progress"]


@pytest.fixture(scope="session")
def reference_run(tiny_sets, data_root, tmp_path_factory) -> Path:
    """A smoke run dir of `ivif-bench run` with the reference rules average and max."""
    out = tmp_path_factory.mktemp("notebook_run") / "run"
    assert cli.main(["run", "--methods", "average,max", "--datasets", ",".join(tiny_sets), "--out", str(out),
                     "--no-plots", *_common(data_root)]) == 0
    return out


@pytest.fixture(scope="session")
def study_dir(tiny_sets, data_root, reference_run, tmp_path_factory) -> Path:
    """A 2-run DIDFuse study of `ivif-bench repro` (1 training step each), ranked against average and max."""
    out = tmp_path_factory.mktemp("notebook_study") / "study"
    assert cli.main(["repro", "--method", "didfuse", "--runs", "2", "--datasets", ",".join(tiny_sets),
                     "--competitors", str(reference_run), "--cpus-per-run", "1", "--out", str(out),
                     *_common(data_root)]) == 0
    return out


@pytest.fixture(scope="session")
def run_dir(tiny_sets, data_root, reference_run, study_dir) -> Path:
    """The reference run extended with DIDFuse (the study's seed-0 checkpoint: one training less)."""
    checkpoint = study_dir / "checkpoints" / "didfuse" / "seed0" / "final.ckpt"
    assert cli.main(["run", "--methods", "average,max,didfuse", "--datasets", ",".join(tiny_sets),
                     "--out", str(reference_run), "--ckpt", f"didfuse={checkpoint}", "--no-plots",
                     *_common(data_root)]) == 0
    return reference_run


@pytest.fixture(scope="session")
def kernel_path(tmp_path_factory) -> Path:
    """A Jupyter data dir whose ``python3`` kernel is this interpreter (put first on ``JUPYTER_PATH``)."""
    from ipykernel.kernelspec import install

    prefix = tmp_path_factory.mktemp("jupyter")
    install(kernel_name="python3", prefix=str(prefix))
    spec = prefix / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"
    assert spec.is_file() and sys.executable in spec.read_text()
    return prefix / "share" / "jupyter"


def execute(name: str, kernel_path: Path, monkeypatch, **env: str) -> nbformat.NotebookNode:
    """Run ``notebooks/<name>.ipynb`` top to bottom in its folder; a cell error raises ``CellExecutionError``."""
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    NotebookClient(notebook, kernel_name="python3", timeout=300,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return notebook


def outputs(notebook: nbformat.NotebookNode, kind: str) -> list[str]:
    """Every output of MIME type ``kind`` (``text/markdown``, ``image/png``, ``stdout``, ...), in cell order."""
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if kind == "stdout" and output.get("name") == "stdout":
                found.append(output["text"])
            elif kind in output.get("data", {}):
                found.append(output["data"][kind])
    return found


@pytest.mark.parametrize("name", list(ENV))
def test_committed_without_outputs_and_with_a_parameter_cell(name):
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code), f"{name}: clear the outputs"
    assert "parameters" in code[0].metadata.get("tags", []), f"{name}: the first code cell is the parameter cell"
    assert ENV[name] in code[0].source
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def test_leaderboard_notebook_shows_the_run(run_dir, kernel_path, monkeypatch):
    notebook = execute("leaderboard", kernel_path, monkeypatch, IVIF_BENCH_RUN_DIR=str(run_dir))
    printed = "".join(outputs(notebook, "stdout"))
    assert f"run dir: {run_dir.resolve()}" in printed
    assert "methods: average, max, didfuse; test sets: tno, flir" in printed
    leaderboard = outputs(notebook, "text/markdown")[0]
    for heading in ("## tno (2 images)", "## flir (2 images)", "| Metric | average | max | didfuse |", "MSE ↓"):
        assert heading in leaderboard
    # bars + per-image box plots per test set, then the qualitative grid
    assert len(outputs(notebook, "image/png")) == 2 + 2 + 1
    # per-image tables, sorted by EN (SORT_BY), best first
    results = read_results(run_dir)
    tables = [text for text in outputs(notebook, "text/plain") if "\nmethod  seed image" in text]
    assert len(tables) == 2
    for dataset, table in zip(("tno", "flir"), tables):
        en = results[(results.dataset == dataset) & (results.metric == "EN")].sort_values("value", ascending=False)
        first = table.splitlines()[2].split()
        assert first[:3] == [en.method.iloc[0], "0", en.image.iloc[0]], table


def test_reproducibility_notebook_shows_the_study(study_dir, run_dir, kernel_path, monkeypatch):
    notebook = execute("reproducibility", kernel_path, monkeypatch, IVIF_BENCH_STUDY_DIR=str(study_dir),
                       IVIF_BENCH_COMPETITORS=str(run_dir))
    printed = "".join(outputs(notebook, "stdout"))
    assert f"study dir: {study_dir.resolve()}" in printed and "didfuse, profile smoke: 2 runs (seeds 0..1)" in printed
    table = outputs(notebook, "text/markdown")[0]
    assert "didfuse trained 2 times (seeds 0,1)" in table
    assert "## tno (2 runs)" in table and "## flir (2 runs)" in table
    assert "| best competitor | second competitor | 1st | 2nd |" in table and "MSE ↓" in table and "/2 |" in table
    assert len(outputs(notebook, "image/png")) == 2  # Figure 5, histograms


def test_read_study_report_and_reranking_agree(study_dir, run_dir):
    stored = read_study(study_dir)
    reranked = read_study(study_dir, competitors=run_dir)
    assert stored["method"] == "didfuse" and stored["seeds"] == [0, 1]
    assert set(stored["runs"]["run"]) == {1, 2} and set(stored["results"]["method"]) == {"didfuse"}
    pd.testing.assert_frame_equal(stored["report"], reranked["report"], check_dtype=False)
    assert set(stored["report"]["best_competitor"]) <= {"average", "max"}


def test_per_image_table_sorts_in_the_metric_direction(run_dir):
    results, facts = read_results(run_dir), read_facts(run_dir)
    table = per_image_table(results, "flir", facts, sort_by="MSE")
    assert list(table.columns) == METRICS.split(",") and len(table) == 3 * 2
    assert table["MSE"].is_monotonic_increasing  # lower is better: best first
    assert per_image_table(results, "flir", facts, sort_by="SD")["SD"].is_monotonic_decreasing
    default = per_image_table(results, "tno", facts).index.tolist()
    assert default == [(m, 0, i) for m in ("average", "max", "didfuse") for i in ("1", "2")]


def test_bad_dirs_and_arguments_are_named(tmp_path, run_dir):
    with pytest.raises(StudyError, match="not an ivif-bench repro dir"):
        read_study(run_dir)
    with pytest.raises(FileNotFoundError, match="no results.csv"):
        read_results(tmp_path)
    results, facts = read_results(run_dir), read_facts(run_dir)
    with pytest.raises(ValueError, match="dataset 'nir'"):
        per_image_table(results, "nir", facts)
    with pytest.raises(ValueError, match="sort_by='VIF'"):
        per_image_table(results, "tno", facts, sort_by="VIF")
