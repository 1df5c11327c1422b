"""Run the reference evaluation codes as they are and compare them with ivif-bench's conventions.

Not a test: it needs GNU Octave (with its ``image`` and ``signal`` packages) and the
reference files, which are never part of this repository. They are fetched into a
temporary folder outside the checkout (downloaded at pinned commits, or copied from
``--references DIR``, a folder holding ``VIFB/``, ``Evaluation-for-Image-Fusion/`` and
``MMIF-CDDFuse/`` laid out as upstream) and removed at the end.

* ``vifb``: ``metricsX(VIS, IR, F)`` on uint8 images, as VIFB's ``compute_metrics.m``.
* ``tang``: the functions ``analysis_Reference.m`` calls, with its inputs (uint8 for EN and
  MI, ``im2double(x) * 255`` for the rest; A = IR, B = VIS). FMI runs pixel loops in
  Octave: it is computed on a central ``--fmi-crop`` square.
* ``cddfuse``: ``utils/Evaluator.py`` executed in Python on float32 gray images (its
  ``import cv2`` is given an empty module: only the image reader uses OpenCV; skimage >= 0.20
  gets the ``data_range = 2`` its legacy default used).

Octave lacks two MATLAB functions the VIFB files call; they are supplied as small
re-implementations of MATLAB's documented behaviour: ``freqspace`` (the 2-D frequency
grid) and ``blkproc`` (zero-pads to whole blocks, applies the function per block).

It prints the largest relative difference per (metric, convention) over the pairs, and
Octave's time for Qcb and Qcv against ivif-bench's (one CPU thread, best of 5; Octave runs each once).

Example:
    python -m benchmarks.verify.octave_reference --pairs 1,3 --references /tmp/refs --out /tmp/octave.md
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
import types
import urllib.request
from pathlib import Path

import numpy as np
import torch

from benchmarks.provenance import print_report
from datamodules.datasets import resolve_data_root
from datamodules.io import read_image

#: convention -> (GitHub repository, pinned commit, files needed)
REFERENCES = {
    "vifb": ("xingchenzhang/VIFB", "22b2ea9d91499cc5962d9bdcae9c290270f0fade",
             [f"metrics/metrics{n}.m" for n in ("Avg_gradient", "Cross_entropy", "Edge_intensity", "Entropy",
                                                "Mutinf", "Psnr", "Qabf", "Qcb", "Qcv", "Rmse",
                                                "Spatial_frequency", "Ssim", "Variance")]),
    "tang": ("Linfeng-Tang/Evaluation-for-Image-Fusion", "0e87153be77320e31ef2cabb5820518d2ac56bac",
             [f"Evaluation/{n}.m" for n in ("MI_evaluation", "Hab", "MSE_evaluation", "PSNR_evaluation",
                                            "SF_evaluation", "SD_evaluation", "AG_evaluation", "CC_evaluation",
                                            "analysis_SCD", "analysis_Qabf", "vifp_mscale", "analysis_fmi")]),
    "cddfuse": ("Zhaozixiang1228/MMIF-CDDFuse", "fd8da1f39d8d403b7343e577bd5a30cba38c7b7b", ["utils/Evaluator.py"]),
}

#: (convention, metric) -> Octave expression; V, I, F uint8 and Vf, If, Ff = im2double(x) * 255
OCTAVE_CALLS = {
    "vifb": {name: f"metrics{file}(V, I, F)" for name, file in (
        ("AG", "Avg_gradient"), ("CE", "Cross_entropy"), ("EI", "Edge_intensity"), ("EN", "Entropy"),
        ("MI", "Mutinf"), ("PSNR", "Psnr"), ("Qabf", "Qabf"), ("Qcb", "Qcb"), ("Qcv", "Qcv"), ("RMSE", "Rmse"),
        ("SF", "Spatial_frequency"), ("SSIM", "Ssim"), ("SD", "Variance"))},
    "tang": {
        "EN": "entropy(F)", "SD": "SD_evaluation(Ff)", "SF": "SF_evaluation(Ff)", "AG": "AG_evaluation(Ff)",
        "VIF": "vifp_mscale(If, Ff) + vifp_mscale(Vf, Ff)", "SCD": "analysis_SCD(If, Vf, Ff)",
        "CC": "CC_evaluation(If, Vf, Ff)", "MSE": "MSE_evaluation(If, Vf, Ff)",
        "PSNR": "PSNR_evaluation(If, Vf, Ff)", "MI": "MI_evaluation(I, V, F, 256)",
        "Qabf": "analysis_Qabf(If, Vf, Ff)", "FMI_pixel": "analysis_fmi(If, Vf, Ff, 'none')",
        "FMI_dct": "analysis_fmi(If, Vf, Ff, 'dct')",
    },
}
CROPPED = {("tang", "FMI_pixel"), ("tang", "FMI_dct")}  # pixel loops in Octave: a central crop
TIMED = ("Qcb", "Qcv")

# MATLAB functions Octave lacks, written from MATLAB's documentation.
SHIMS = {
    "freqspace.m": """function [f1, f2] = freqspace(n, flag)
  %% MATLAB's 2-D freqspace: ((0:n-1) - floor(n/2)) * 2 / n per axis, f1 along the columns
  if numel(n) == 1, n = [n n]; end
  f1 = ((0:n(2)-1) - floor(n(2)/2)) * (2/n(2));
  f2 = ((0:n(1)-1) - floor(n(1)/2)) * (2/n(1));
  if nargin > 1 && strcmp(flag, 'meshgrid'), [f1, f2] = meshgrid(f1, f2); end
end
""",
    "blkproc.m": """function b = blkproc(a, blk, border, fun)
  %% MATLAB's blkproc without overlap: zero-pad to whole blocks, one scalar of fun per block
  [m, n] = size(a);
  mb = ceil(m / blk(1)); nb = ceil(n / blk(2));
  p = zeros(mb * blk(1), nb * blk(2)); p(1:m, 1:n) = a;
  b = zeros(mb, nb);
  for i = 1:mb
    for j = 1:nb
      b(i, j) = fun(p((i-1)*blk(1)+1:i*blk(1), (j-1)*blk(2)+1:j*blk(2)));
    end
  end
end
""",
}


def fetch_references(target: Path, references: Path | None) -> None:
    """Copy (from ``references``) or download (pinned raw GitHub URLs) every reference file into ``target``."""
    for convention, (repo, commit, files) in REFERENCES.items():
        folder = target / convention
        folder.mkdir(parents=True)
        for path in files:
            if references is not None:
                source = references / repo.split("/")[1] / path
                if not source.is_file():
                    raise SystemExit(f"--references: {source} is missing (expected {repo} laid out as upstream)")
                shutil.copy(source, folder / Path(path).name)
            else:
                url = f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"
                with urllib.request.urlopen(url, timeout=60) as response:
                    (folder / Path(path).name).write_bytes(response.read())
    for name, text in SHIMS.items():
        (target / "shims").mkdir(exist_ok=True)
        (target / "shims" / name).write_text(text)


def _crop_size(convention: str, name: str, fmi_crop: int, crop: int | None) -> int | None:
    """Side of the central square a metric runs on (``None``: the whole image)."""
    if (convention, name) in CROPPED:
        return min(fmi_crop, crop) if crop else fmi_crop
    return crop


def _crop(image: np.ndarray, size: int | None) -> np.ndarray:
    if size is None:
        return image
    h, w = image.shape
    top, left = (h - size) // 2, (w - size) // 2
    return image[top:top + size, left:left + size]


def run_octave(work: Path, images: dict[str, dict[str, Path]], fmi_crop: int, crop: int | None) -> dict:
    """Values and times of every Octave call: {(convention, metric, pair): (value, wall s, cpu s)}."""
    lines = ["pkg load image; pkg load signal; warning('off', 'all');",
             f"addpath('{work / 'vifb'}'); addpath('{work / 'tang'}');",
             f"if ~exist('freqspace'), addpath('{work / 'shims'}'); end",
             f"if ~exist('blkproc'), addpath('{work / 'shims'}'); end"]
    for pair, paths in images.items():
        lines += [f"V0 = imread('{paths['vis']}'); I0 = imread('{paths['ir']}'); F0 = imread('{paths['fused']}');"]
        height, width = read_image(paths["ir"]).shape
        for convention, calls in OCTAVE_CALLS.items():
            for name, expression in calls.items():
                size = _crop_size(convention, name, fmi_crop, crop)
                if size is None:
                    lines.append("V = V0; I = I0; F = F0;")
                else:
                    top, left = (height - size) // 2 + 1, (width - size) // 2 + 1
                    window = f"({top}:{top + size - 1}, {left}:{left + size - 1})"
                    lines.append(f"V = V0{window}; I = I0{window}; F = F0{window};")
                lines += [
                    "Vf = im2double(V) * 255; If = im2double(I) * 255; Ff = im2double(F) * 255;",
                    f"try, t0 = cputime; tic; v = {expression}; w = toc; c = cputime - t0;",
                    f"  printf('RESULT {convention} {name} {pair} %.17g %.6f %.6f\\n', real(v), w, c);",
                    f"catch err, printf('FAILED {convention} {name} {pair} %s\\n', err.message); end",
                ]
    script = work / "driver.m"
    script.write_text("\n".join(lines) + "\n")
    completed = subprocess.run(["octave", "--no-gui", "--quiet", "--no-window-system", str(script)],
                               capture_output=True, text=True, cwd=work)
    results = {}
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT"):
            _, convention, name, pair, value, wall, cpu = line.split()
            results[(convention, name, pair)] = (float(value), float(wall), float(cpu))
        elif line.startswith("FAILED"):
            print(line, file=sys.stderr)
    if not results:
        raise SystemExit(f"Octave produced no result:\n{completed.stderr[-2000:]}")
    return results


def run_cddfuse(work: Path, images: dict[str, dict[str, Path]], crop: int | None) -> dict:
    """``Evaluator.X(F, IR, VIS)`` of CDDFuse's file on float32 gray images: {(convention, metric, pair): value}."""
    from functools import partial

    import skimage
    from skimage.metrics import structural_similarity

    namespace: dict = {"__name__": "cddfuse_evaluator"}
    sys.modules.setdefault("cv2", types.ModuleType("cv2"))  # used only by the file's image reader
    exec(compile((work / "cddfuse" / "Evaluator.py").read_text(), "Evaluator.py", "exec"), namespace)
    if tuple(int(p) for p in re.findall(r"\d+", skimage.__version__)[:2]) >= (0, 20):
        namespace["ssim"] = partial(structural_similarity, data_range=2)  # skimage 0.19's float default
    evaluator = namespace["Evaluator"]
    calls = {"EN": lambda f, a, b: evaluator.EN(f), "SD": lambda f, a, b: evaluator.SD(f),
             "SF": lambda f, a, b: evaluator.SF(f), "AG": lambda f, a, b: evaluator.AG(f),
             "MI": evaluator.MI, "SCD": evaluator.SCD, "VIF": evaluator.VIFF, "Qabf": evaluator.Qabf,
             "SSIM": evaluator.SSIM, "MSE": evaluator.MSE, "CC": evaluator.CC, "PSNR": evaluator.PSNR}
    results = {}
    for pair, paths in images.items():
        f, a, b = (_crop(read_image(paths[k]), crop).astype(np.float32) for k in ("fused", "ir", "vis"))
        for name, call in calls.items():
            results[("cddfuse", name, pair)] = float(call(f, a, b))
    return results


def run_ours(images: dict[str, dict[str, Path]], fmi_crop: int, crop: int | None) -> tuple[dict, dict]:
    """ivif-bench's value of every (convention, metric, pair), and the best-of-5 times of Qcb and Qcv."""
    from metrics import list_metrics
    from metrics.functional.conventions import get_functional

    values, times = {}, {}
    torch.set_num_threads(1)
    for pair, paths in images.items():
        full = {k: read_image(p) for k, p in paths.items()}
        for convention in ("vifb", "cddfuse", "tang"):
            for name in list_metrics(convention):
                size = _crop_size(convention, name, fmi_crop, crop)
                f, a, b = (torch.from_numpy(np.ascontiguousarray(_crop(full[k], size))).double().div(255)[None, None]
                           for k in ("fused", "ir", "vis"))
                fn = get_functional(name, convention)
                values[(convention, name, pair)] = fn(f, a, b).item()
                if convention == "vifb" and name in TIMED:
                    best = (math.inf, math.inf)
                    for _ in range(5):
                        wall, cpu = time.perf_counter(), time.process_time()
                        fn(f, a, b)
                        best = (min(best[0], time.perf_counter() - wall), min(best[1], time.process_time() - cpu))
                    times[(name, pair)] = best
    return values, times


def report(reference: dict, ours: dict, octave: dict, times: dict) -> str:
    """Markdown: the largest relative difference per (metric, convention), then the Qcb / Qcv times."""
    lines = ["| convention | metric | pairs | largest relative difference | reference value (first pair) |",
             "|---|---|---|---|---|"]
    keys = sorted({(c, n) for c, n, _ in reference}, key=lambda k: (k[0], k[1].lower()))
    for convention, name in keys:
        pairs = [p for c, n, p in reference if (c, n) == (convention, name)]
        diffs = []
        for pair in pairs:
            ref, mine = reference[(convention, name, pair)], ours[(convention, name, pair)]
            diffs.append(abs(mine - ref) / max(abs(ref), 1e-300))
        lines.append(f"| {convention} | {name} | {len(pairs)} | {max(diffs):.1e} | "
                     f"{reference[(convention, name, pairs[0])]:.10g} |")
    lines += ["", "| metric | pair | Octave wall s | Octave CPU s | ivif-bench wall s | ivif-bench CPU s | "
                  "speed-up (wall) | speed-up (CPU) |", "|---|---|---|---|---|---|---|---|"]
    for (name, pair), (wall, cpu) in sorted(times.items()):
        _, o_wall, o_cpu = octave[("vifb", name, pair)]
        lines.append(f"| {name} | {pair} | {o_wall:.2f} | {o_cpu:.2f} | {wall:.3f} | {cpu:.3f} | "
                     f"{o_wall / wall:.0f}x | {o_cpu / max(cpu, 1e-9):.0f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None, help="folder holding IVIF-DIDFuse/ (default: the data root)")
    parser.add_argument("--pairs", default="1,3", help="TNO pair numbers k (IR<k>, VIS<k>, DIDFuse's F<k>)")
    parser.add_argument("--fmi-crop", type=int, default=32, help="side of the central crop FMI runs on")
    parser.add_argument("--crop", type=int, default=None, help="run every metric on a central crop of this side")
    parser.add_argument("--references", type=Path, default=None,
                        help="folder with the reference repositories (default: download at pinned commits)")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown report here")
    args = parser.parse_args(argv)
    if shutil.which("octave") is None:
        raise SystemExit("GNU Octave is not on PATH (e.g. apt-get install octave octave-image octave-signal)")
    root = resolve_data_root(args.data_root) / "IVIF-DIDFuse"
    images = {k: {"ir": root / "Datasets" / "Test_data_TNO" / f"IR{k}.bmp",
                  "vis": root / "Datasets" / "Test_data_TNO" / f"VIS{k}.bmp",
                  "fused": root / "Test_result" / "TNO_IJCAI" / f"F{k}.png"} for k in args.pairs.split(",")}
    with tempfile.TemporaryDirectory(prefix="ivif-bench-references-") as tmp:
        work = Path(tmp)
        fetch_references(work, args.references)
        octave = run_octave(work, images, args.fmi_crop, args.crop)
        reference = {key: value[0] for key, value in octave.items()}
        reference.update(run_cddfuse(work, images, args.crop))
    ours, times = run_ours(images, args.fmi_crop, args.crop)
    text = report(reference, ours, octave, times)
    print_report(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
