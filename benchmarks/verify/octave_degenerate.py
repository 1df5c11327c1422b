"""Degenerate inputs (issue 16): what each reference code returns, next to ivif-bench's value and warnings.

Not a test: it needs GNU Octave (``image`` and ``signal`` packages) and the reference files
(see :mod:`benchmarks.verify.octave_reference`, whose fetching and drivers it reuses). The
cases are built from a 48 x 48 crop of a real TNO pair (DIDFuse's fused image, IR, VIS):

* ``const128``, ``black``, ``white``: the fused image constant at 128, 0, 255;
* ``black_src``, ``white_src``: both sources constant at 0 / 255 (the fused image real);
* ``all_black``: all three images 0; ``equal``: the fused image equals both sources (a real image);
* ``tiny1``, ``tiny2``, ``tiny7``: 1 x 1, 2 x 2, 7 x 7 crops of the real pair.

It prints one Markdown row per (convention, metric, case): the reference's value (``error`` where
the reference stops with an error; ``-`` where none was run) and ivif-bench's value with the number
of warnings ``ivif-bench evaluate`` gives for that (image, metric). ``docs/conventions.md``,
"Degenerate inputs", is built from its output; ``tests/metrics/test_degenerate_inputs.py`` pins it.

Example:
    python -m benchmarks.verify.octave_degenerate --references /tmp/refs --out /tmp/degenerate.md
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.provenance import print_report
from datamodules.datasets import resolve_data_root
from datamodules.io import read_image

from .octave_reference import OCTAVE_CALLS, fetch_references, run_cddfuse

SIZE = 48  # the crop the cases are built from (>= 41: VIF's four scales fit)
CASES = ("normal", "const128", "black", "white", "black_src", "white_src", "all_black", "equal",
         "tiny1", "tiny2", "tiny7")


def build_cases(data_root: Path, pair: int = 5) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """case -> (fused, ir, vis) uint8 arrays (see the module docstring)."""
    root = data_root / "IVIF-DIDFuse"
    ir = read_image(root / "Datasets" / "Test_data_TNO" / f"IR{pair}.bmp")
    vis = read_image(root / "Datasets" / "Test_data_TNO" / f"VIS{pair}.bmp")
    fused = read_image(root / "Test_result" / "TNO_IJCAI" / f"F{pair}.png")
    top, left = (ir.shape[0] - SIZE) // 2, (ir.shape[1] - SIZE) // 2
    f, a, b = (x[top:top + SIZE, left:left + SIZE].copy() for x in (fused, ir, vis))

    def const(v: int, size: int = SIZE) -> np.ndarray:
        return np.full((size, size), v, dtype=np.uint8)

    cases = {"normal": (f, a, b), "const128": (const(128), a, b), "black": (const(0), a, b),
             "white": (const(255), a, b), "black_src": (f, const(0), const(0)), "white_src": (f, const(255), const(255)),
             "all_black": (const(0), const(0), const(0)), "equal": (a, a, a)}
    for n in (1, 2, 7):
        cases[f"tiny{n}"] = tuple(x[:n, :n].copy() for x in (f, a, b))
    return cases


def run_ours(cases: dict) -> dict:
    """{(convention, metric, case): (value, warnings)} through the engine ``ivif-bench evaluate`` runs."""
    from metrics import list_conventions, list_metrics
    from metrics.engine import Notice, image_values, resolve_plan

    import torch

    torch.set_num_threads(1)  # the engine's (and the tests') thread count: sums of residues ~1e-15 depend on it
    keys = [(name, convention) for convention in list_conventions() for name in list_metrics(convention)]
    plan = resolve_plan(keys)
    out = {}
    for case, images in cases.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values, caught = image_values(plan, *images)
        for (name, convention), (value, _rule) in zip(keys, values):
            said = [m for c, m in caught if c is not Notice and f"{name} ({convention})" in m]
            out[(convention, name, case)] = (value, said)
    return out


def run_octave(work: Path, images: dict[str, dict[str, Path]]) -> dict:
    """Every VIFB and tang call on every case: {(convention, metric, case): value or "error: ..."}.

    As :func:`benchmarks.verify.octave_reference.run_octave` on whole images, but a call that stops
    with an error, or returns other than one number, is recorded as such (that is the finding here).
    """
    import subprocess

    lines = ["pkg load image; pkg load signal; warning('off', 'all');",
             f"addpath('{work / 'vifb'}'); addpath('{work / 'tang'}'); addpath('{work / 'shims'}');"]
    for case, paths in images.items():
        lines.append(f"V = imread('{paths['vis']}'); I = imread('{paths['ir']}'); F = imread('{paths['fused']}');")
        # Octave's imread (GraphicsMagick) returns an all-white 8-bit PNG as logical 1s; MATLAB's gives uint8 255
        lines.append("if islogical(V), V = uint8(V) * 255; end; if islogical(I), I = uint8(I) * 255; end; "
                     "if islogical(F), F = uint8(F) * 255; end")
        lines.append("Vf = im2double(V) * 255; If = im2double(I) * 255; Ff = im2double(F) * 255;")
        for convention, calls in OCTAVE_CALLS.items():
            for name, expression in calls.items():
                lines += [f"try, v = {expression};",
                          f"  if numel(v) == 1, printf('RESULT {convention} {name} {case} %.17g\\n', real(v));",
                          f"  else, printf('FAILED {convention} {name} {case} returned %d values\\n', numel(v)); end",
                          f"catch err, printf('FAILED {convention} {name} {case} %s\\n', "
                          "strrep(err.message, char(10), ' ')); end"]
    (work / "driver.m").write_text("\n".join(lines) + "\n")
    completed = subprocess.run(["octave", "--no-gui", "--quiet", "--no-window-system", str(work / "driver.m")],
                               capture_output=True, text=True, cwd=work)
    results: dict = {}
    for line in completed.stdout.splitlines():
        parts = line.split(maxsplit=4)
        if len(parts) >= 4 and parts[0] == "RESULT":
            results[(parts[1], parts[2], parts[3])] = float(parts[4])
        elif len(parts) >= 4 and parts[0] == "FAILED":
            results[(parts[1], parts[2], parts[3])] = "error: " + (parts[4] if len(parts) > 4 else "")
    if not results:
        raise SystemExit(f"Octave produced no result:\n{completed.stderr[-2000:]}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=None, help="folder holding IVIF-DIDFuse/ (default: the data root)")
    parser.add_argument("--references", type=Path, default=None,
                        help="folder with the reference repositories (default: download at pinned commits)")
    parser.add_argument("--no-octave", action="store_true", help="only ivif-bench's values")
    parser.add_argument("--cases", default=None, help=f"comma-separated subset of {', '.join(CASES)}")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown table here")
    args = parser.parse_args(argv)
    cases = build_cases(resolve_data_root(args.data_root))
    if args.cases:
        cases = {k: cases[k] for k in args.cases.split(",")}
    reference: dict = {}
    if not args.no_octave:
        if shutil.which("octave") is None:
            raise SystemExit("GNU Octave is not on PATH (e.g. apt-get install octave octave-image octave-signal)")
        with tempfile.TemporaryDirectory(prefix="ivif-bench-degenerate-") as tmp:
            work = Path(tmp)
            fetch_references(work, args.references)
            images = {}
            for case, triple in cases.items():
                images[case] = {}
                for key, array in zip(("fused", "ir", "vis"), triple):
                    path = work / f"{case}_{key}.png"
                    Image.fromarray(array).save(path)
                    images[case][key] = path
            reference = run_octave(work, images)
            for case, paths in images.items():  # one case at a time: the tiny ones make Evaluator.py raise
                try:
                    reference.update(run_cddfuse(work, {case: paths}, None))
                except Exception as err:  # noqa: BLE001  (the reference's own failure is the finding)
                    print(f"FAILED cddfuse * {case} {type(err).__name__}: {err}", file=sys.stderr)
                    for name in ("EN", "SD", "SF", "AG", "MI", "SCD", "VIF", "Qabf", "SSIM", "MSE", "CC", "PSNR"):
                        try:
                            reference.update(_cddfuse_one(work, paths, name, case))
                        except Exception:  # noqa: BLE001
                            reference[("cddfuse", name, case)] = "error"
    ours = run_ours(cases)
    lines = ["| convention | metric | case | reference | ivif-bench | warnings |", "|---|---|---|---|---|---|"]
    for (convention, name, case), (value, said) in ours.items():
        ref = reference.get((convention, name, case), "-")
        ref_text = (ref[:60].replace("|", "/") if isinstance(ref, str) else f"{ref:.17g}")
        lines.append(f"| {convention} | {name} | {case} | {ref_text} | {value:.17g} | {len(said)} |")
    text = "\n".join(lines)
    print_report(text, args.out)
    return 0


def _cddfuse_one(work: Path, paths: dict, name: str, case: str) -> dict:
    """One metric of CDDFuse's Evaluator.py on one case (after the whole run raised)."""
    import types
    from functools import partial

    from skimage.metrics import structural_similarity

    namespace: dict = {"__name__": "cddfuse_evaluator"}
    sys.modules.setdefault("cv2", types.ModuleType("cv2"))
    exec(compile((work / "cddfuse" / "Evaluator.py").read_text(), "Evaluator.py", "exec"), namespace)
    namespace["ssim"] = partial(structural_similarity, data_range=2)
    evaluator = namespace["Evaluator"]
    f, a, b = (read_image(paths[k]).astype(np.float32) for k in ("fused", "ir", "vis"))
    one = {"EN": lambda: evaluator.EN(f), "SD": lambda: evaluator.SD(f), "SF": lambda: evaluator.SF(f),
           "AG": lambda: evaluator.AG(f), "VIF": lambda: evaluator.VIFF(f, a, b)}
    call = one.get(name) or (lambda: getattr(evaluator, name)(f, a, b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(call())
    return {("cddfuse", name, case): value if not math.isnan(value) else math.nan}


if __name__ == "__main__":
    raise SystemExit(main())
