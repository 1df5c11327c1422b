"""ivif-bench against the evaluation codes the field runs: same images, same metrics, one run, values checked.

Times, on the TNO pairs with the DIDFuse authors' released fused images, each peer code
and ``ivif-bench evaluate`` with the convention that reproduces it, one CPU thread each:

* ``cddfuse``: MMIF-CDDFuse ``utils/Evaluator.py`` as its ``test_IVF.py`` calls it (Python),
  against ``--convention cddfuse`` (its 12 metrics);
* ``zoo``: IVIF_ZOO ``Metric/Metric_torch.py`` as its ``eval_torch.py`` calls it (PyTorch, CPU;
  and CUDA when present), against the ivif-bench metric each of its functions computes
  (``NAME:CONVENTION``; where its code differs, e.g. its VIF window, the values differ and
  the table says so);
* ``vifb`` / ``tang``: VIFB's ``metrics/metrics*.m`` and Tang's ``Evaluation/*.m`` in GNU Octave
  (with the ``image`` and ``signal`` packages), against ``--convention vifb`` / ``tang``; Tang's
  FMI is left out (its per-pixel loops take hours per image in Octave).

Per metric: the peer's and ivif-bench's compute time (process CPU seconds, summed over the
images; image reading excluded), the ratio, and the largest relative difference of the
values over the images against the convention's tolerance (``cddfuse`` and ``zoo`` compute
in float32: 1e-5; ``vifb`` and ``tang`` in float64: 1e-9). For the suite: compute alone, and
the whole command (a fresh process: start-up, imports, image reading, every metric, writing),
CPU seconds and wall seconds. Best of ``--repeats`` (ivif-bench) / ``--peer-repeats``.

The peers are not part of ivif-bench: point ``--peer-dir`` at a folder holding checkouts of
``MMIF-CDDFuse/``, ``IVIF_ZOO/``, ``VIFB/`` and ``Evaluation-for-Image-Fusion/`` as upstream
lays them out (e.g. ``git clone``). CDDFuse's reader needs OpenCV (``pip install
opencv-python-headless``), its SSIM scikit-image; IVIF_ZOO needs scikit-learn and scipy.

  python benchmarks/speed/peer_metrics.py --peer-dir /tmp/peers --data-root ../shared/data
  python benchmarks/speed/peer_metrics.py --peer-dir /tmp/peers --peers cddfuse --ids 1-40 --out peer.md
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DRIVERS = Path(__file__).resolve().with_name("peer_drivers.py")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "OMP_WAIT_POLICY": "PASSIVE"}
TOLERANCE = {"cddfuse": 1e-5, "zoo": 1e-5, "vifb": 1e-9, "tang": 1e-9}
FOLDERS = {"cddfuse": "MMIF-CDDFuse", "zoo": "IVIF_ZOO", "vifb": "VIFB", "tang": "Evaluation-for-Image-Fusion"}

#: IVIF_ZOO function (peer_drivers.ZOO_CALLS) -> the ivif-bench metric it computes, and what differs if anything
ZOO_MATCH = {
    "EN": ("EN:default", "adds 1e-7 inside the log"), "MI": ("MI:default", ""), "SF": ("SF:default", ""),
    "AG": ("AG:cddfuse", ""), "SD": ("SD:default", ""), "CC": ("CC:default", ""), "SCD": ("SCD:default", ""),
    "VIF": ("VIF:tang", "its Gaussian window is linspace(-N//2, N//2, N) and it filters 'same' with zeros"),
    "MSE": ("MSE:tang", ""), "PSNR": ("PSNR:tang", ""), "Qabf": ("Qabf:default", ""),
    "SSIM": ("SSIM:vifb", "it scales the 0-255 images by 255 again (data_range 255 on 0-65025 values)"),
    "MS_SSIM": ("MS_SSIM:default", "a sum of the two sources (ivif-bench: the mean), scaled as its SSIM"),
    "EI": ("EI:vifb", "zero padding (VIFB: replicate)"),
    "Qcb": ("Qcb:vifb", "its own frequency grid (fftfreq) and no 8-bit rounding of the filtered images"),
}


def _octave_tables():
    """VIFB / Tang Octave calls and MATLAB shims of the reference check (wherever the ``layout`` move put it)."""
    try:
        from benchmarks.verify.octave_reference import OCTAVE_CALLS, SHIMS
    except ImportError:
        from benchmarks.octave_reference import OCTAVE_CALLS, SHIMS
    return OCTAVE_CALLS, SHIMS


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _load() -> float:
    """The 1-minute load average (NaN where the system has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan


def timed_run(command: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[float, float, str]:
    """Run ``command`` to the end; (CPU s of the process and its children, wall s, stdout). Raises on failure."""
    cpu, wall = _children_cpu(), time.perf_counter()
    done = subprocess.run(command, env={**os.environ, **ONE_THREAD, **(env or {})}, cwd=cwd, capture_output=True,
                          text=True)
    wall, cpu = time.perf_counter() - wall, _children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return cpu, wall, done.stdout


def best_run(command: list[str], repeats: int, **kwargs) -> tuple[float, float, str]:
    runs = [timed_run(command, **kwargs) for _ in range(max(1, repeats))]
    return min(r[0] for r in runs), min(r[1] for r in runs), runs[-1][2]


# ---- ivif-bench --------------------------------------------------------------------------------------

def ours_command(fused_dir: Path, data_root: Path, ids: str, metrics: list[str], out: Path,
                 device: str = "cpu") -> list[str]:
    return [sys.executable, "-m", "benchmarks.cli", "evaluate", str(fused_dir), "--dataset", "tno",
            "--pattern", "F{id}", "--ids", ids, "--data-root", str(data_root), "--metrics", ",".join(metrics),
            "--device", device, "--no-progress", "--out", str(out)]


def read_ours(csv_path: Path) -> dict[str, dict[str, float]]:
    """'NAME:CONVENTION' -> image id -> value, from an ``ivif-bench evaluate --out`` CSV."""
    values: dict[str, dict[str, float]] = {}
    with open(csv_path, newline="") as handle:
        for row in csv.DictReader(handle):
            key = f"{row['metric']}:{row['convention']}"
            values.setdefault(key, {})[row["image"]] = float(row["value"]) if row["value"] else math.nan
    return values


def ours_compute(images: list[dict], metrics: list[str], repeats: int,
                 device: str = "cpu") -> tuple[dict[str, float], float]:
    """Compute-only seconds over the images: each metric alone, and the whole plan (shared work included).

    Process CPU seconds on CPU (one thread); wall seconds on CUDA (synchronised).
    """
    import torch

    from datamodules.io import read_image
    from metrics.engine import image_values, resolve_plan

    torch.set_num_threads(1)
    arrays = [tuple(read_image(item[k]) for k in ("fused", "ir", "vis")) for item in images]
    plan = resolve_plan([tuple(m.split(":")) for m in metrics])

    def seconds(entries) -> float:
        clock = time.process_time if device == "cpu" else time.perf_counter
        best = math.inf
        for _ in range(max(1, repeats)):
            start = clock()
            for triplet in arrays:
                image_values(entries, *triplet, device=device)
            if device != "cpu":
                torch.cuda.synchronize()
            best = min(best, clock() - start)
        return best

    return {m: seconds([entry]) for m, entry in zip(metrics, plan)}, seconds(plan)


# ---- the peers ---------------------------------------------------------------------------------------

def peer_python(peer: str, repo: Path, images_file: Path, work: Path, repeats: int, device: str = "cpu") -> dict:
    out = work / f"{peer}.json"
    command = [sys.executable, str(DRIVERS), peer, str(repo), str(images_file), str(out)] + (
        [device] if peer == "zoo" else [])
    runs = []
    for _ in range(max(1, repeats)):
        cpu, wall, _ = timed_run(command, cwd=work)
        runs.append((cpu, wall, json.loads(out.read_text())))
    result = min(runs, key=lambda r: r[0])[2]
    result["whole_cpu"], result["whole_wall"] = min(r[0] for r in runs), min(r[1] for r in runs)
    for name in result["compute_s"]:
        result["compute_s"][name] = min(r[2]["compute_s"][name] for r in runs)
    return result


def peer_octave(convention: str, folder: Path, images: list[dict], work: Path, repeats: int) -> dict:
    """One Octave process per run: every image, every metric of the convention (Tang's FMI excluded)."""
    calls, shims = _octave_tables()
    calls = {n: e for n, e in calls[convention].items() if not n.startswith("FMI")}
    (work / "shims").mkdir(exist_ok=True)
    for name, text in shims.items():
        (work / "shims" / name).write_text(text)
    lines = ["pkg load image; pkg load signal; warning('off', 'all');", f"addpath('{folder}');",
             f"if ~exist('freqspace'), addpath('{work / 'shims'}'); end",
             f"if ~exist('blkproc'), addpath('{work / 'shims'}'); end"]
    for item in images:
        lines.append(f"V = imread('{item['vis']}'); I = imread('{item['ir']}'); F = imread('{item['fused']}');")
        lines.append("Vf = im2double(V) * 255; If = im2double(I) * 255; Ff = im2double(F) * 255;")
        for name, expression in calls.items():
            lines.append(f"t0 = cputime; v = {expression}; c = cputime - t0; "
                         f"printf('RESULT {name} {item['id']} %.17g %.6f\\n', real(v), c);")
    script = work / f"{convention}.m"
    script.write_text("\n".join(lines) + "\n")
    command = ["octave", "--no-gui", "--quiet", "--no-window-system", str(script)]
    runs = [timed_run(command, cwd=work) for _ in range(max(1, repeats))]
    values: dict[str, dict[str, float]] = {n: {} for n in calls}
    compute = dict.fromkeys(calls, math.inf)
    for _, _, stdout in runs:
        per_run = dict.fromkeys(calls, 0.0)
        for line in stdout.splitlines():
            if line.startswith("RESULT"):
                _, name, image, value, cpu = line.split()
                values[name][image] = float(value)
                per_run[name] += float(cpu)
        compute = {n: min(compute[n], per_run[n]) for n in calls}
    return {"values": values, "compute_s": compute, "whole_cpu": min(r[0] for r in runs),
            "whole_wall": min(r[1] for r in runs)}


# ---- report ------------------------------------------------------------------------------------------

def largest_difference(peer: dict[str, float], ours: dict[str, float]) -> float:
    worst = 0.0
    for image, reference in peer.items():
        mine = ours[image]
        if math.isnan(reference) and math.isnan(mine):
            continue
        worst = max(worst, abs(mine - reference) / max(abs(reference), 1e-300))
    return worst


def comparison(peer: str, result: dict, ours: dict, matches: dict[str, tuple[str, str]]) -> dict:
    rows = []
    for name, (key, note) in matches.items():
        difference = largest_difference(result["values"][name], ours["values"][key])
        agrees = difference <= TOLERANCE[peer]
        rows.append({"metric": name, "ours": key, "peer_s": result["compute_s"][name],
                     "ours_s": ours["compute_s"][key], "difference": difference, "agrees": agrees,
                     "note": "" if agrees else note})
    return {"peer": peer, "images": len(next(iter(result["values"].values()))), "rows": rows,
            "peer_compute": sum(result["compute_s"].values()),
            "ours_compute": ours["suite_s"], "peer_whole": (result["whole_cpu"], result["whole_wall"]),
            "ours_whole": ours["whole"], "tolerance": TOLERANCE[peer]}


def _ratio(peer: float, ours: float) -> str:
    return f"{peer / ours:.1f}x" if ours > 0 else "-"


def markdown(report: dict) -> str:
    titles = {"cddfuse": "CDDFuse `utils/Evaluator.py` (Python)", "zoo": "IVIF_ZOO `Metric_torch.py` (PyTorch CPU)",
              "zoo_cuda": "IVIF_ZOO `Metric_torch.py` (CUDA)", "vifb": "VIFB `metrics*.m` (GNU Octave)",
              "tang": "Tang `Evaluation/*.m` (GNU Octave)"}
    out = []
    for peer, part in report.items():
        load = (f" (load average {part['load'][0]:.1f} at the start, {part['load'][1]:.1f} at the end: on a shared "
                f"machine the wall times measure the other jobs too)" if "load" in part else "")
        out += [f"#### {titles.get(peer, peer)}: {part['images']} TNO pairs, one thread each", "",
                f"CPU seconds, best of the runs{load}.", "",
                "| metric | ivif-bench | peer s | ivif-bench s | speed-up | largest rel. diff. | agree |",
                "|---|---|---:|---:|---:|---:|---|"]
        for row in part["rows"]:
            agree = "yes" if row["agrees"] else f"no: {row['note']}" if row["note"] else "no"
            out.append(f"| {row['metric']} | {row['ours']} | {row['peer_s']:.2f} | {row['ours_s']:.3f} | "
                       f"{_ratio(row['peer_s'], row['ours_s'])} | {row['difference']:.1e} | {agree} |")
        (pc, pw), (oc, ow) = part["peer_whole"], part["ours_whole"]
        out += [f"| **suite, compute alone** | | {part['peer_compute']:.2f} | {part['ours_compute']:.2f} | "
                f"**{_ratio(part['peer_compute'], part['ours_compute'])}** | | tolerance {part['tolerance']:.0e} |",
                f"| **whole command, CPU s** | | {pc:.2f} | {oc:.2f} | **{_ratio(pc, oc)}** | | |",
                f"| whole command, wall s | | {pw:.2f} | {ow:.2f} | {_ratio(pw, ow)} | | |", ""]
    return "\n".join(out)


def scaling(fused_dir: Path, data_root: Path, ids: str, workers: str, repeats: int, work: Path) -> dict:
    """Wall and CPU seconds of ``ivif-bench evaluate`` (every default metric) with ``--workers N``, and its values
    (every run's CSV must be byte for byte the first's)."""
    from metrics.registry import list_metrics

    metrics = [f"{m}:default" for m in list_metrics("default")]
    results, first = {}, None
    for count in (int(n) for n in workers.split(",")):
        out = work / f"workers{count}.csv"
        command = ours_command(fused_dir, data_root, ids, metrics, out) + ["--workers", str(count)]
        cpu, wall, _ = best_run(command, repeats, env={"PYTHONPATH": str(REPO)})
        data = out.read_bytes()
        first = data if first is None else first
        results[count] = {"cpu": cpu, "wall": wall, "same_values": data == first, "load": _load()}
    return results


def scaling_markdown(results: dict, images: int) -> str:
    base = results[min(results)]["wall"]
    lines = [f"#### ivif-bench evaluate --workers N: {images} TNO pairs, every default metric", "",
             "| workers | wall s | CPU s | speed-up (wall) | same values | load average after |",
             "|---:|---:|---:|---:|---|---:|"]
    for count, row in sorted(results.items()):
        lines.append(f"| {count} | {row['wall']:.1f} | {row['cpu']:.1f} | {base / row['wall']:.2f}x | "
                     f"{'yes' if row['same_values'] else 'NO'} | {row.get('load', math.nan):.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-dir", type=Path, required=True,
                        help="folder with MMIF-CDDFuse/, IVIF_ZOO/, VIFB/, Evaluation-for-Image-Fusion/ checkouts")
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--peers", default="cddfuse,zoo,vifb,tang", help="which peers (comma list)")
    parser.add_argument("--ids", default="1-40", help="TNO pair ids")
    parser.add_argument("--octave-ids", default=None, help="TNO pair ids for the Octave peers (default: --ids)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of ivif-bench (best is kept)")
    parser.add_argument("--peer-repeats", type=int, default=1, help="runs of each peer (best is kept)")
    parser.add_argument("--scaling", default=None,
                        help="also time ivif-bench evaluate --workers N for these N (e.g. 1,2), default metrics, wall "
                             "clock: how evaluation scales with cores")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown tables here")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure as JSON here")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    from benchmarks.provenance import print_report
    from datamodules.datasets import parse_ids
    from metrics.registry import list_metrics

    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = [p for p in peers if p not in FOLDERS]
    if unknown:
        raise SystemExit(f"--peers: unknown {', '.join(unknown)}; choose from {', '.join(FOLDERS)}")
    for peer in peers:
        if not (args.peer_dir / FOLDERS[peer]).is_dir():
            raise SystemExit(f"--peer-dir: {args.peer_dir / FOLDERS[peer]} is missing (a checkout of {peer}'s code)")
    if any(p in peers for p in ("vifb", "tang")) and shutil.which("octave") is None:
        raise SystemExit("GNU Octave is not on PATH (apt-get install octave octave-image octave-signal)")

    tno = args.data_root / "IVIF-DIDFuse"
    fused_dir = tno / "Test_result" / "TNO_IJCAI"

    def image_list(ids: str) -> list[dict]:
        return [{"id": k, "fused": str(fused_dir / f"F{k}.png"),
                 "ir": str(tno / "Datasets" / "Test_data_TNO" / f"IR{k}.bmp"),
                 "vis": str(tno / "Datasets" / "Test_data_TNO" / f"VIS{k}.bmp")} for k in parse_ids(ids)]

    import torch

    report, figures = {}, {}
    with tempfile.TemporaryDirectory(prefix="ivif-bench-peers-") as tmp:
        work = Path(tmp)
        for peer in peers:
            ids = args.octave_ids if peer in ("vifb", "tang") and args.octave_ids else args.ids
            images = image_list(ids)
            images_file = work / f"{peer}-images.json"
            images_file.write_text(json.dumps(images))
            if peer == "cddfuse":
                matches = {n: (f"{n}:cddfuse", "") for n in list_metrics("cddfuse")}
            elif peer == "zoo":
                matches = ZOO_MATCH
            else:
                calls, _ = _octave_tables()
                matches = {n: (f"{n}:{peer}", "") for n in calls[peer] if not n.startswith("FMI")}
            metrics = list(dict.fromkeys(key for key, _ in matches.values()))
            devices = ["cpu"] + (["cuda"] if peer == "zoo" and torch.cuda.is_available() else [])
            for device in devices:
                label = peer if device == "cpu" else f"{peer}_cuda"
                print(f"{label}: {len(images)} images, {len(matches)} metrics ...", file=sys.stderr)
                load_start = _load()
                if peer in ("cddfuse", "zoo"):
                    result = peer_python(peer, args.peer_dir / FOLDERS[peer], images_file, work, args.peer_repeats,
                                         device)
                else:
                    folder = args.peer_dir / FOLDERS[peer] / ("metrics" if peer == "vifb" else "Evaluation")
                    result = peer_octave(peer, folder, images, work, args.peer_repeats)
                csv_path = work / f"{label}-ours.csv"
                whole_cpu, whole_wall, _ = best_run(ours_command(fused_dir, args.data_root, ids, metrics, csv_path,
                                                                 device), args.repeats, env={"PYTHONPATH": str(REPO)})
                per_metric, suite = ours_compute(images, metrics, args.repeats, device)
                ours = {"values": read_ours(csv_path), "compute_s": per_metric, "suite_s": suite,
                        "whole": (whole_cpu, whole_wall)}
                report[label] = {**comparison(peer, result, ours, matches), "load": (load_start, _load())}
                figures[label] = {"peer": result, "ours": {k: v for k, v in ours.items()}}
                print(markdown({label: report[label]}), file=sys.stderr)
        if args.scaling:
            figures["scaling"] = scaling(fused_dir, args.data_root, args.ids, args.scaling, args.repeats, work)
    text = markdown(report)
    if "scaling" in figures:
        text += "\n" + scaling_markdown(figures["scaling"], len(parse_ids(args.ids)))
    print_report(text, args.out)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
