"""Run the pre-2023 ``analysis_Reference.m`` in GNU Octave and compare it with the ``tang2022`` convention.

Not a test: it needs GNU Octave (with its ``image`` package) and a checkout of
Linfeng-Tang/Evaluation-for-Image-Fusion (``--tang-dir``), which is never part of this
repository. The metric files are taken from that checkout's history at the last commit
before the 2023-03-03 rewrite (``git show 553c1d5:Evaluation/<file>``; a folder that is not a
git checkout must hold those old files in ``Evaluation/``), copied into a temporary folder
and removed at the end. Octave calls ``analysis_Reference(F, IR, VIS, 1)`` on each pair as
``Evaluation_for_Multi_Algorithm.m`` does (``imread``, ``rgb2gray`` for a 3-channel image);
ivif-bench evaluates the same folder through :func:`metrics.evaluate.evaluate_folder`, the
code behind ``ivif-bench evaluate --convention tang2022``. Before the metrics, the driver
checks that Octave applies MATLAB's integer rules the old SD and VIF rely on (uint8
arithmetic rounds half away from zero and saturates; ``mean`` and ``sum`` of uint8 are double).

It prints, per metric, the largest relative difference over the pairs and where it is.

Example:
    python -m benchmarks.verify.octave_tang2022 --tang-dir /tmp/Evaluation-for-Image-Fusion \\
        --fused ../shared/data/Evaluation-for-Image-Fusion/Image/Algorithm/IFCNN_TNO --out /tmp/tang2022.md
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.provenance import print_report
from datamodules.datasets import list_datasets, resolve_data_root

#: the last commit before the rewrite 7849642 (2023-03-03); its Evaluation/ files are those of 5d6c43a
OLD_COMMIT = "553c1d5756e6bfc495335f299438f7fabd9d9ea4"
FILES = ("analysis_Reference", "SD_evaluation", "SF_evaluation", "PSNR_evaluation", "MSE_evaluation",
         "MI_evaluation", "Hab", "vifp_mscale", "AG_evaluation", "CC_evaluation", "analysis_SCD", "analysis_Qabf")
#: analysis_Reference's outputs, in the order the driver prints them (its 'easy' branch)
METRICS = ("EN", "SF", "SD", "PSNR", "MSE", "MI", "VIF", "AG", "CC", "SCD", "Qabf")
DATASET = "tang_tno"
SOURCES = Path("Evaluation-for-Image-Fusion") / "Image" / "Source-Image" / "TNO"

SEMANTICS = """% MATLAB integer rules the old SD_evaluation and vifp_mscale rely on
ok = isequal(uint8(200) .* uint8(200), uint8(255)) && isequal(uint8(2) - 1.5, uint8(1)) ...
  && isequal(uint8(3) - 1.5, uint8(2)) && isequal(uint8(5) - 9.2, uint8(0)) && isequal(uint8(16) .^ 2, uint8(255)) ...
  && strcmp(class(mean(uint8([1 2; 3 4]))), 'double') && strcmp(class(sum(uint8([200 200]))), 'double') ...
  && sum(uint8([200 200])) == 400 && strcmp(class(filter2(ones(2) / 4, uint8(magic(3)), 'valid')), 'double');
printf('SEMANTICS %d\\n', ok);
"""


def old_files(tang_dir: Path, target: Path) -> None:
    """Write the pre-2023 Evaluation/*.m files of ``tang_dir`` (git history, or a folder of them) into ``target``."""
    is_git = subprocess.run(["git", "-C", str(tang_dir), "rev-parse", "--git-dir"], capture_output=True).returncode == 0
    for name in FILES:
        if is_git:
            shown = subprocess.run(["git", "-C", str(tang_dir), "show", f"{OLD_COMMIT}:Evaluation/{name}.m"],
                                   capture_output=True)
            if shown.returncode != 0:
                raise SystemExit(f"--tang-dir {tang_dir}: no Evaluation/{name}.m at {OLD_COMMIT[:7]} "
                                 f"({shown.stderr.decode(errors='replace').strip()})")
            (target / f"{name}.m").write_bytes(shown.stdout)
        else:
            source = tang_dir / "Evaluation" / f"{name}.m"
            if not source.is_file():
                raise SystemExit(f"--tang-dir {tang_dir}: {source} is missing (give a git checkout of "
                                 "Linfeng-Tang/Evaluation-for-Image-Fusion, or a folder of its pre-2023 files)")
            shutil.copy(source, target / f"{name}.m")
    if "image_fused = im2double(image_f)" not in (target / "analysis_Reference.m").read_text(errors="replace"):
        raise SystemExit(f"--tang-dir {tang_dir}: Evaluation/analysis_Reference.m is the 2023 rewrite, not the "
                         "pre-2023 file (check out a commit before 7849642)")


def run_octave(work: Path, sources: Path, fused: Path, ids: list[str]) -> dict[str, dict[str, float]]:
    """analysis_Reference's 11 values per pair id, from Octave."""
    lines = ["pkg load image; warning('off', 'all');", SEMANTICS, f"addpath('{work}');"]
    for pair in ids:
        lines += [
            f"I = imread('{sources / 'ir' / (pair + '.png')}'); V = imread('{sources / 'vi' / (pair + '.png')}');",
            f"F = imread('{fused / (pair + '.png')}');",
            "if size(I, 3) > 2, I = rgb2gray(I); end; if size(V, 3) > 2, V = rgb2gray(V); end;",
            "if size(F, 3) > 2, F = rgb2gray(F); end;",
            "[EN, SF, SD, PSNR, MSE, MI, VIF, AG, CC, SCD, Qabf] = analysis_Reference(F, I, V, 1);",
            f"printf('RESULT {pair}'); printf(' %.17g', [EN, SF, SD, PSNR, MSE, MI, VIF, AG, CC, SCD, Qabf]);",
            "printf('\\n'); fflush(stdout);",
        ]
    script = work / "driver.m"
    script.write_text("\n".join(lines) + "\n")
    completed = subprocess.run(["octave", "--no-gui", "--quiet", "--no-window-system", str(script)],
                               capture_output=True, text=True, cwd=work)
    results, semantics = {}, None
    for line in completed.stdout.splitlines():
        if line.startswith("SEMANTICS"):
            semantics = line.split()[1] == "1"
        elif line.startswith("RESULT"):
            parts = line.split()
            results[parts[1]] = dict(zip(METRICS, map(float, parts[2:])))
    if semantics is not True:
        raise SystemExit(f"Octave does not apply MATLAB's uint8 rules (or did not run):\n{completed.stderr[-2000:]}")
    missing = [pair for pair in ids if pair not in results]
    if missing:
        raise SystemExit(f"Octave gave no result for {', '.join(missing)}:\n{completed.stderr[-2000:]}")
    return results


def run_ours(sources: Path, fused: Path, ids: list[str], data_root: Path, work: Path) -> dict[str, dict[str, float]]:
    """ivif-bench's tang2022 values, through the folder evaluation ``ivif-bench evaluate`` runs."""
    from metrics.evaluate import evaluate_folder

    if DATASET in list_datasets():
        dataset = DATASET
    else:  # until tang_tno is registered: a folder with ir/ + vis/ (the repository names it vi/)
        dataset = work / "TNO"
        dataset.mkdir()
        os.symlink(sources / "ir", dataset / "ir")
        os.symlink(sources / "vi", dataset / "vis")
    table = evaluate_folder(fused, dataset, data_root=data_root, ids=ids, convention="tang2022", progress=False)
    values: dict[str, dict[str, float]] = {}
    for row in table.itertuples():
        values.setdefault(row.image, {})[row.metric] = float(row.value)
    return values


def report(reference: dict, ours: dict) -> str:
    """Markdown: per metric the pairs, the largest relative difference, its pair and the reference value there."""
    lines = ["| metric | pairs | largest relative difference | at pair | reference value there |",
             "|---|---|---|---|---|"]
    for name in ("SD", "PSNR", "MSE", "MI", "VIF", "AG", "CC", "SCD", "EN", "Qabf", "SF"):
        worst = max(reference, key=lambda p: abs(ours[p][name] - reference[p][name]) / abs(reference[p][name]))
        ref = reference[worst][name]
        lines.append(f"| {name} | {len(reference)} | {abs(ours[worst][name] - ref) / abs(ref):.1e} | {worst} | "
                     f"{ref:.10g} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tang-dir", type=Path, required=True,
                        help="a git checkout of Linfeng-Tang/Evaluation-for-Image-Fusion (or a folder of its "
                             "pre-2023 Evaluation/*.m files)")
    parser.add_argument("--data-root", default=None, help="folder holding Evaluation-for-Image-Fusion/ "
                                                          "(default: the data root)")
    parser.add_argument("--fused", type=Path, default=None,
                        help="folder of fused images NN.png (default: the repository's IFCNN_TNO)")
    parser.add_argument("--ids", default=None, help="pair ids, e.g. 01,05,08 (default: all 42)")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown report here")
    args = parser.parse_args(argv)
    if shutil.which("octave") is None:
        raise SystemExit("GNU Octave is not on PATH (e.g. apt-get install octave octave-image)")
    root = resolve_data_root(args.data_root)
    sources = (root / SOURCES).resolve()
    fused = (args.fused or root / "Evaluation-for-Image-Fusion" / "Image" / "Algorithm" / "IFCNN_TNO").resolve()
    ids = args.ids.split(",") if args.ids else sorted(p.stem for p in (sources / "ir").glob("*.png"))
    if not ids:
        raise SystemExit(f"{sources / 'ir'}: no NN.png source images")
    with tempfile.TemporaryDirectory(prefix="ivif-bench-tang2022-") as tmp:
        work = Path(tmp)
        (work / "old").mkdir()
        old_files(args.tang_dir.expanduser().resolve(), work / "old")
        reference = run_octave(work / "old", sources, fused, ids)
        ours = run_ours(sources, fused, ids, root, work)
    text = report(reference, ours)
    print_report(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
