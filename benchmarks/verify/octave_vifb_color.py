"""Colour against the reference codes: VIFB's own values, VIFB's and Tang's .m files in Octave, CDDFuse's reader.

Not a test: it needs checkouts of the reference repositories (never part of this one)
and, for the Octave parts, GNU Octave with its ``image`` package. What it compares:

1. ``own``: ``ivif-bench evaluate`` (``--convention vifb``) on the fused images VIFB
   ships (``output/fused_images/<pair>_<method>.jpg``) against VIFB's own per-image
   values (``output/evaluation_metrics_single/*.txt``, printed to 5 significant digits):
   per method, how many of 21 x 13 values round to VIFB's, and the largest relative difference.
2. ``octave``: VIFB's unmodified ``metrics*.m`` on colour pairs (its fused images, and
   fusions built here: a colour average, a gray average with colour sources), and Tang's
   ``analysis_Reference.m`` (``easy = 1``) after the ``rgb2gray`` its ``Evaluation_for_*.m``
   apply to 3-channel images; full precision, largest relative difference per metric.
   Images reach Octave with their own channels, as MATLAB's ``imread`` returns them
   (Octave's ``imread`` returns 2-D arrays for RGB JPEGs whose channels are equal).
   Octave's own ``rgb2gray`` has 6-decimal weights; MATLAB's (documented, YIQ) is supplied.
3. ``decoders``: PIL, OpenCV (when importable) and Octave's ``imread`` on every JPEG used.
4. ``cddfuse``: CDDFuse's ``image_read_cv2(path, 'GRAY')`` (needs ``cv2``; CDDFuse pins
   opencv-python 4.5.3) against :func:`metrics.color.opencv_gray` on the same files, pixel by
   pixel, and its ``Evaluator.py`` on those gray images against the ``cddfuse`` convention on
   the colour files.

``--pin`` prints the Octave values of the fusions built here, as pinned in
``tests/metrics/test_color_reference.py``.

Example:
    python -m benchmarks.verify.octave_vifb_color --vifb-dir /tmp/VIFB --tang-dir /tmp/Evaluation-for-Image-Fusion \\
        --cddfuse-dir /tmp/MMIF-CDDFuse --octave-pairs walking,running --octave-methods ADF,CNN,SeAFusion
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.provenance import print_report
from datamodules.io import read_image

VIFB_FILES = {"AG": "Avg_gradient", "CE": "Cross_entropy", "EI": "Edge_intensity", "EN": "Entropy", "MI": "Mutinf",
              "PSNR": "Psnr", "Qabf": "Qabf", "Qcb": "Qcb", "Qcv": "Qcv", "RMSE": "Rmse", "SF": "Spatial_frequency",
              "SSIM": "Ssim", "SD": "Variance"}
TANG_OUTPUTS = ["EN", "SF", "SD", "PSNR", "MSE", "MI", "VIF", "AG", "CC", "SCD", "Qabf"]  # analysis_Reference, easy

try:  # freqspace and blkproc: the shims of the gray comparison (the `layout` helper moves that file)
    from benchmarks.verify.octave_reference import SHIMS as _GRAY_SHIMS
except ImportError:
    from benchmarks.octave_reference import SHIMS as _GRAY_SHIMS

# MATLAB's rgb2gray, written from its documentation (Octave's own has 6-decimal weights).
SHIMS = {**_GRAY_SHIMS, "rgb2gray.m": """function I = rgb2gray(X)
  %% MATLAB's rgb2gray: weights T(1,:) of inv([1 0.956 0.621; 1 -0.272 -0.647; 1 -1.106 1.703]);
  %% uint8 in: rounded, saturated (uint8 cast); double in: not rounded, not clipped (R2016b+)
  if size(X, 3) ~= 3, error('rgb2gray: expects an M x N x 3 image'); end
  c = [0.298936021293775 0.587043074451121 0.114020904255103];
  I = c(1) * double(X(:, :, 1)) + c(2) * double(X(:, :, 2)) + c(3) * double(X(:, :, 3));
  if isa(X, 'uint8'), I = uint8(I); end
end
"""}


# ---- images -----------------------------------------------------------------------------------------

def constructed_fusions(vis: np.ndarray, ir: np.ndarray) -> dict[str, np.ndarray]:
    """Deterministic fusions of a VIFB pair (uint8): ``mean_rgb`` = ceil((VIS_k + IR_k) / 2) per channel
    (a gray IR used for every channel), ``mean_gray`` = ceil((VIS_G + IR) / 2), gray."""
    ir3 = ir if ir.ndim == 3 else np.repeat(ir[..., None], 3, axis=2)
    ir1 = ir3[..., 0]
    return {"mean_rgb": ((vis.astype(np.uint16) + ir3 + 1) // 2).astype(np.uint8),
            "mean_gray": ((vis[..., 1].astype(np.uint16) + ir1 + 1) // 2).astype(np.uint8)}


def as_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 H x W (x 3) -> float64 1 x C x H x W on the 8-bit grid."""
    t = torch.from_numpy(np.ascontiguousarray(image)).double().div(255)
    return t.permute(2, 0, 1).unsqueeze(0) if t.ndim == 3 else t.view(1, 1, *t.shape)


def ours(convention: str, names: list[str], fused: np.ndarray, ir: np.ndarray, vis: np.ndarray) -> dict:
    from metrics.functional.conventions import get_functional

    f, a, b = (as_tensor(x) for x in (fused, ir, vis))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: get_functional(name, convention)(f, a, b).item() for name in names}


# ---- Octave -----------------------------------------------------------------------------------------

def run_octave(work: Path, cases: dict[str, dict[str, Path]], vifb_dir: Path | None,
               tang_dir: Path | None) -> dict:
    """{(case, convention, metric): value} of VIFB's metrics*.m and Tang's analysis_Reference.m."""
    shims = work / "shims"
    shims.mkdir(exist_ok=True)
    for name, text in SHIMS.items():
        (shims / name).write_text(text)
    lines = ["pkg load image; warning('off', 'all');"]
    if tang_dir is not None:
        lines.append(f"addpath('{tang_dir / 'Evaluation'}');")
    if vifb_dir is not None:
        lines.append(f"addpath('{vifb_dir / 'metrics'}');")
    lines.append(f"addpath('{shims}');")  # first on the path: MATLAB's rgb2gray, freqspace, blkproc
    for case, paths in cases.items():
        for key, var in (("vis", "V"), ("ir", "I"), ("fused", "F")):
            channels = 3 if read_image(paths[key], mode="native").ndim == 3 else 1
            lines.append(f"{var} = imread('{paths[key]}'); if size({var}, 3) ~= {channels}, "
                         f"{var} = repmat({var}, [1 1 {channels}]); end")  # MATLAB imread keeps 3 channels
        if vifb_dir is not None:
            for name, file in VIFB_FILES.items():
                lines += [f"try, v = metrics{file}(V, I, F); printf('RESULT {case} vifb {name} %.17g\\n', real(v));",
                          f"catch err, printf('FAILED {case} vifb {name} %s\\n', err.message); end"]
        if tang_dir is not None:  # Evaluation_for_*.m: rgb2gray on every 3-channel image, then easy = 1
            lines += ["i = I; v = V; f = F;", "if size(i, 3) > 2, i = rgb2gray(i); end",
                      "if size(v, 3) > 2, v = rgb2gray(v); end", "if size(f, 3) > 2, f = rgb2gray(f); end",
                      f"[{', '.join(TANG_OUTPUTS)}] = analysis_Reference(f, i, v, 1);"]
            lines += [f"printf('RESULT {case} tang {n} %.17g\\n', {n});" for n in TANG_OUTPUTS]
    script = work / "driver.m"
    script.write_text("\n".join(lines) + "\n")
    done = subprocess.run(["octave", "--no-gui", "--quiet", "--no-window-system", str(script)],
                          capture_output=True, text=True, cwd=work)
    results = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == "RESULT":
            results[(parts[1], parts[2], parts[3])] = float(parts[4])
        elif parts and parts[0] == "FAILED":
            results[(parts[1], parts[2], parts[3])] = math.nan  # the .m file stops: ivif-bench gives NaN
    if not results:
        raise SystemExit(f"Octave produced no result:\n{done.stderr[-2000:]}")
    return results


def decoders(paths: list[Path], work: Path) -> str:
    """Which decoders give PIL's pixels for every file (Octave's imread; cv2 when importable)."""
    listing = work / "files.txt"
    listing.write_text("\n".join(str(p) for p in paths) + "\n")
    (work / "dec").mkdir(exist_ok=True)
    script = work / "decode.m"
    script.write_text("fid = fopen('files.txt'); i = 0;\nwhile true\n  p = fgetl(fid); if ~ischar(p), break; end\n"
                      "  i = i + 1; x = imread(p); out = fopen(sprintf('dec/%05d.raw', i), 'w');\n"
                      "  fwrite(out, size(x, 3), 'uint8'); fwrite(out, permute(x, [3 2 1]), 'uint8'); fclose(out);\n"
                      "end\nfclose(fid);\n")
    subprocess.run(["octave", "--no-gui", "--quiet", "--no-window-system", str(script)], cwd=work, check=True,
                   capture_output=True)
    try:
        import cv2
    except ImportError:
        cv2 = None
    octave_diff = cv_diff = collapsed = 0
    for i, path in enumerate(paths, 1):
        pil = read_image(path, mode="native")
        raw = np.fromfile(work / "dec" / f"{i:05d}.raw", np.uint8)
        octave = raw[1:].reshape(pil.shape[0], pil.shape[1], raw[0])
        if octave.shape[2] == 1 and pil.ndim == 3:
            collapsed += 1
            octave = np.repeat(octave, 3, axis=2)
        octave_diff += not np.array_equal(octave.reshape(pil.shape), pil)
        if cv2 is not None:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            rgb = bgr[..., ::-1] if pil.ndim == 3 else bgr[..., 0]
            cv_diff += not np.array_equal(rgb, pil)
    cv_text = f"OpenCV {cv2.__version__} differs on {cv_diff}" if cv2 is not None else "OpenCV not importable"
    return (f"{len(paths)} JPEGs: Octave imread differs from PIL on {octave_diff} (and returns 2-D for "
            f"{collapsed} RGB JPEGs whose channels are equal); {cv_text}")


# ---- the comparisons ---------------------------------------------------------------------------------

def compare_own(vifb_dir: Path, methods: list[str], work: Path) -> list[str]:
    """ivif-bench evaluate --convention vifb on VIFB's fused images against its printed per-image values."""
    from metrics.evaluate import evaluate_folder

    dataset = work / "vifb_pairs"
    dataset.mkdir()
    (dataset / "ir").symlink_to(vifb_dir / "input" / "IR")
    (dataset / "vis").symlink_to(vifb_dir / "input" / "VI")
    single = vifb_dir / "output" / "evaluation_metrics_single"
    lines = ["| method | values | equal at 5 significant digits | largest relative difference |", "|---|---|---|---|"]
    for method in methods:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = evaluate_folder(vifb_dir / "output" / "fused_images", dataset, pattern="{id}_" + method,
                                    convention="vifb", progress=False)
        equal, worst = 0, 0.0
        for row in table.itertuples():
            reference = float((single / f"{row.image}_{method}_{VIFB_FILES[row.metric]}.txt").read_text())
            equal += float(f"{row.value:.5g}") == reference
            worst = max(worst, abs(row.value - reference) / abs(reference))
        lines.append(f"| {method} | {len(table)} | {equal} | {worst:.1e} |")
        print(lines[-1], flush=True)
    return lines


def compare_octave(reference: dict, mine: dict, gray_cases: set[str]) -> list[str]:
    """Largest relative difference per (convention, metric), colour-fused and gray-fused cases apart."""
    lines = ["| convention | metric | cases | largest relative difference, colour fused | same, gray fused with "
             "colour sources | NaN where the reference fails |", "|---|---|---|---|---|---|"]
    for convention, name in sorted({(c, n) for _, c, n in reference}):
        keys = [k for k in reference if k[1:] == (convention, name)]
        worst, nans = {True: 0.0, False: 0.0}, 0
        for key in keys:
            ref, value = reference[key], mine[key]
            if math.isnan(ref) or math.isnan(value):
                nans += math.isnan(ref) and math.isnan(value)
                diff = 0.0 if math.isnan(ref) and math.isnan(value) else math.inf
            else:
                diff = abs(value - ref) / max(abs(ref), 1e-300)
            gray = key[0] in gray_cases
            worst[gray] = max(worst[gray], diff)
        lines.append(f"| {convention} | {name} | {len(keys)} | {worst[False]:.1e} | {worst[True]:.1e} | {nans} |")
    return lines


def _cddfuse_namespace(cddfuse_dir: Path) -> dict:
    """CDDFuse's ``utils/Evaluator.py`` executed as it is (its ``image_read_cv2`` needs ``cv2``); skimage >= 0.20
    gets the ``data_range = 2`` its 0.19 float default used."""
    import re
    from functools import partial

    import cv2  # noqa: F401  (its reader)
    import skimage
    from skimage.metrics import structural_similarity

    namespace: dict = {"__name__": "cddfuse_evaluator"}
    exec(compile((cddfuse_dir / "utils" / "Evaluator.py").read_text(), "Evaluator.py", "exec"), namespace)
    if tuple(int(p) for p in re.findall(r"\d+", skimage.__version__)[:2]) >= (0, 20):
        namespace["ssim"] = partial(structural_similarity, data_range=2)
    return namespace


CDDFUSE_CALLS = {"EN": lambda e, f, a, b: e.EN(f), "SD": lambda e, f, a, b: e.SD(f), "SF": lambda e, f, a, b: e.SF(f),
                 "AG": lambda e, f, a, b: e.AG(f), "MI": lambda e, f, a, b: e.MI(f, a, b),
                 "SCD": lambda e, f, a, b: e.SCD(f, a, b), "VIF": lambda e, f, a, b: e.VIFF(f, a, b),
                 "Qabf": lambda e, f, a, b: e.Qabf(f, a, b), "SSIM": lambda e, f, a, b: e.SSIM(f, a, b),
                 "MSE": lambda e, f, a, b: e.MSE(f, a, b), "CC": lambda e, f, a, b: e.CC(f, a, b),
                 "PSNR": lambda e, f, a, b: e.PSNR(f, a, b)}


def run_cddfuse(cddfuse_dir: Path, cases: dict[str, dict[str, Path]]) -> dict:
    """``Evaluator.X(F, IR, VIS)`` on ``image_read_cv2(path, 'GRAY')`` images, as CDDFuse's test_IVF.py."""
    namespace = _cddfuse_namespace(cddfuse_dir)
    read, evaluator = namespace["image_read_cv2"], namespace["Evaluator"]
    results = {}
    for case, paths in cases.items():
        f, a, b = (read(str(paths[k]), "GRAY") for k in ("fused", "ir", "vis"))
        for name, call in CDDFUSE_CALLS.items():
            results[(case, "cddfuse", name)] = float(call(evaluator, f, a, b))
    return results


def compare_reader(cddfuse_dir: Path, paths: list[Path]) -> str:
    """CDDFuse's own image_read_cv2(path, 'GRAY') against opencv_gray(read_image(path, 'native'))."""
    import cv2

    from metrics.color import opencv_gray

    read = _cddfuse_namespace(cddfuse_dir)["image_read_cv2"]
    differing = pixels = 0
    for path in paths:
        theirs = read(str(path), "GRAY")
        image = read_image(path, mode="native")
        mine = (opencv_gray(as_tensor(image)) * 255).round()[0, 0].numpy() if image.ndim == 3 else image
        differing += int((mine != theirs).sum())
        pixels += theirs.size
    return f"OpenCV {cv2.__version__}: {len(paths)} files, {pixels} pixels, {differing} differ"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vifb-dir", type=Path, required=True, help="a checkout of xingchenzhang/VIFB")
    parser.add_argument("--tang-dir", type=Path, default=None, help="a checkout of Linfeng-Tang/Evaluation-for-Image-Fusion")
    parser.add_argument("--cddfuse-dir", type=Path, default=None, help="a checkout of Zhaozixiang1228/MMIF-CDDFuse")
    parser.add_argument("--methods", default="all", help="VIFB methods for the 'own' comparison (default: all)")
    parser.add_argument("--octave-pairs", default="walking,running", help="VIFB pairs run in Octave")
    parser.add_argument("--octave-methods", default="ADF,CNN,SeAFusion", help="VIFB methods run in Octave")
    parser.add_argument("--skip", default="", help="comma list of parts to skip: own, octave, decoders, cddfuse")
    parser.add_argument("--pin", action="store_true", help="print the reference values of the constructed fusions")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown report here")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    if not skip >= {"octave", "decoders"} and shutil.which("octave") is None:
        raise SystemExit("GNU Octave is not on PATH (apt-get install octave octave-image), or --skip octave,decoders")
    fused_dir = args.vifb_dir / "output" / "fused_images"
    all_methods = sorted(p.stem.split("_", 1)[1] for p in fused_dir.glob("carLight_*.jpg"))
    methods = all_methods if args.methods == "all" else args.methods.split(",")
    report = []
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="ivif-bench-colour-") as tmp:
        work = Path(tmp)
        if "own" not in skip:
            report += ["## ivif-bench against VIFB's own per-image values", ""] + compare_own(
                args.vifb_dir, methods, work) + [""]
        cases, gray_cases = {}, set()
        for pair in args.octave_pairs.split(","):
            vis_path, ir_path = (args.vifb_dir / "input" / d / f"{pair}.jpg" for d in ("VI", "IR"))
            vis, ir = read_image(vis_path, mode="native"), read_image(ir_path, mode="native")
            for method in args.octave_methods.split(","):
                cases[f"{pair}_{method}"] = {"vis": vis_path, "ir": ir_path, "fused": fused_dir / f"{pair}_{method}.jpg"}
            for kind, fused in constructed_fusions(vis, ir).items():
                path = work / f"{pair}_{kind}.png"
                Image.fromarray(fused).save(path)
                cases[f"{pair}_{kind}"] = {"vis": vis_path, "ir": ir_path, "fused": path}
                if fused.ndim == 2:
                    gray_cases.add(f"{pair}_{kind}")
        reference = {}
        if "octave" not in skip:
            reference.update(run_octave(work, cases, args.vifb_dir, args.tang_dir))
        if "cddfuse" not in skip and args.cddfuse_dir is not None:
            reference.update(run_cddfuse(args.cddfuse_dir, cases))
        if reference:
            mine = {}
            for case, paths in cases.items():
                f, a, b = (read_image(paths[k], mode="native") for k in ("fused", "ir", "vis"))
                for convention, names in (("vifb", list(VIFB_FILES)), ("tang", TANG_OUTPUTS),
                                          ("cddfuse", list(CDDFUSE_CALLS))):
                    if any(k[:2] == (case, convention) for k in reference):
                        mine.update({(case, convention, n): v for n, v in ours(convention, names, f, a, b).items()})
            report += ["## VIFB's metrics*.m, Tang's analysis_Reference.m (Octave) and CDDFuse's Evaluator.py", "",
                       f"cases: {', '.join(cases)}", ""] + compare_octave(reference, mine, gray_cases) + [""]
            if args.pin:
                for key in sorted(k for k in reference if k[0].split("_", 1)[1].startswith("mean_")):
                    print(f"    {key!r}: {reference[key]!r},")
        jpegs = sorted({p for c in cases.values() for p in c.values() if p.suffix == ".jpg"} |
                       set((args.vifb_dir / "input").glob("*/*.jpg")) | set(fused_dir.glob("*.jpg")))
        if "decoders" not in skip:
            report += ["## JPEG decoders", "", decoders(jpegs, work), ""]
        if "cddfuse" not in skip and args.cddfuse_dir is not None:
            report += ["## CDDFuse's image_read_cv2(path, 'GRAY') against opencv_gray", "",
                       compare_reader(args.cddfuse_dir, jpegs), ""]
    text = "\n".join(report)
    print_report(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
