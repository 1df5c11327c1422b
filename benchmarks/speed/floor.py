"""Issue 17's two unmet speed targets against the time that cannot go while the values keep their bits.

A command's CPU time splits into the interpreter with torch imported (every metric is torch code), the
compiled code that produces the values (the numba kernels, which replay torch's arithmetic operation for
operation, and torch's own operations: its vectorised atan / exp / log decide the last bits), and the
reading of the image files, and the rest (Python, numba's cache load, other imports). This script
measures the first three and sets them beside each target:

1. ``evaluate --convention cddfuse`` on the 40 TNO fusions >= 20x CDDFuse's ``utils/Evaluator.py``,
   whole command, one thread each. Budget: the Evaluator's whole-command CPU seconds / 20, timed in this
   run with ``--peer-dir`` (as ``peer_metrics.py`` does), else ``--peer-seconds`` from a recorded run.
   Floor: ``python -c "import torch"`` in a fresh process, plus reading the 120 image files, plus the
   compiled code's seconds over the 40 images (cProfile's own time of each kernel and torch operation,
   the kernels loaded beforehand).
2. The full default suite under 1 s per 768 x 576 TNO image at one thread. Floor: the compiled code's
   seconds per image (median over the pairs of that size), FMI's three variants shown apart.

Where the floor is above the budget, no change to the Python or the rest of the start-up can reach the
target: the compiled code itself would have to be that much faster with the same bits.

  OMP_NUM_THREADS=1 python -m benchmarks.speed.floor --data-root ../shared/data --peer-dir /tmp/peers
  OMP_NUM_THREADS=1 python -m benchmarks.speed.floor --data-root ../shared/data --peer-seconds 51.66
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.provenance import write_json
from benchmarks.speed.peer_metrics import FOLDERS, ONE_THREAD, REPO, best_run, ours_command, peer_python

KERNEL_FILES = ("_numba_kernels.py", "_numba_fmi.py")


def compiled_seconds(profile: cProfile.Profile) -> dict[str, float]:
    """Own time of the numba kernels, of torch's operations, and of everything else, from a profile."""
    out = {"numba kernels": 0.0, "torch operations": 0.0, "other": 0.0}
    for (filename, _, name), (_, _, own, _, _) in pstats.Stats(profile).stats.items():
        if filename.endswith(KERNEL_FILES):
            out["numba kernels"] += own
        elif filename == "~" and ("torch." in name or "torch._C" in name):
            out["torch operations"] += own
        else:
            out["other"] += own
    return out


def profiled(plan, arrays) -> dict[str, float]:
    """:func:`compiled_seconds` of ``image_values(plan, ...)`` over ``arrays`` (run the plan once before: numba's
    cached kernels load, FFT plans are made)."""
    from metrics.engine import image_values

    profile = cProfile.Profile()
    profile.enable()
    for triplet in arrays:
        image_values(plan, *triplet)
    profile.disable()
    return compiled_seconds(profile)


def fresh_process_cpu(code: str, repeats: int) -> float:
    """Best CPU seconds of ``python -c CODE`` in a fresh process, one thread."""
    cpu, _, _ = best_run([sys.executable, "-c", code], repeats, env=ONE_THREAD)
    return cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--peer-dir", type=Path, default=None, help="holds MMIF-CDDFuse/ (time its Evaluator now)")
    parser.add_argument("--peer-seconds", type=float, default=None,
                        help="the Evaluator's whole-command CPU s from a recorded run (without --peer-dir)")
    parser.add_argument("--size", default="768x576", help="W x H of the TNO pairs of the per-image target")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    if (args.peer_dir is None) == (args.peer_seconds is None):
        parser.error("give one of --peer-dir (time CDDFuse's Evaluator in this run) or --peer-seconds")
    os.environ.update(ONE_THREAD)

    import torch
    from PIL import Image

    from datamodules.io import read_image
    from metrics.engine import resolve_plan
    from metrics.registry import list_metrics

    torch.set_num_threads(1)
    tno = args.data_root / "IVIF-DIDFuse"
    sources, fused_dir = tno / "Datasets" / "Test_data_TNO", tno / "Test_result" / "TNO_IJCAI"
    images = [{"id": k, "fused": str(fused_dir / f"F{k}.png"), "ir": str(sources / f"IR{k}.bmp"),
               "vis": str(sources / f"VIS{k}.bmp")} for k in range(1, 41)]
    reading = []
    for _ in range(args.repeats):
        start = time.process_time()
        arrays = [tuple(read_image(item[k]) for k in ("fused", "ir", "vis")) for item in images]
        reading.append(time.process_time() - start)
    cddfuse = [f"{name}:cddfuse" for name in list_metrics("cddfuse")]
    figures: dict = {"load_start": os.getloadavg()}

    with tempfile.TemporaryDirectory(prefix="ivif-bench-floor-") as tmp:
        work = Path(tmp)
        if args.peer_dir is not None:
            images_file = work / "images.json"
            images_file.write_text(json.dumps(images))
            peer = peer_python("cddfuse", args.peer_dir / FOLDERS["cddfuse"], images_file, work, 1)["whole_cpu"]
        else:
            peer = args.peer_seconds
        ours, _, _ = best_run(ours_command(fused_dir, args.data_root, "1-40", cddfuse, work / "ours.csv"),
                              args.repeats, env={**ONE_THREAD, "PYTHONPATH": str(REPO)})
    interpreter = fresh_process_cpu("pass", args.repeats)
    with_torch = fresh_process_cpu("import torch", args.repeats)
    from metrics.engine import image_values

    plan = resolve_plan([tuple(m.split(":")) for m in cddfuse])
    image_values(plan, *arrays[0])  # warm-up
    parts = profiled(plan, arrays)
    compiled = parts["numba kernels"] + parts["torch operations"]
    floor = with_torch + min(reading) + compiled
    budget = peer / 20
    figures["cddfuse"] = {"peer_whole_cpu": peer, "ours_whole_cpu": ours, "python_cpu": interpreter,
                          "python_with_torch_cpu": with_torch,
                          "reading_cpu": min(reading), "profile": parts, "budget": budget, "floor": floor}
    print(f"load average at the start {figures['load_start'][0]:.2f}")
    print("1. evaluate --convention cddfuse, 40 TNO pairs, one thread, CPU s")
    print(f"   CDDFuse Evaluator, whole command {peer:.2f} ({'this run' if args.peer_dir else '--peer-seconds'}); "
          f"20x budget {budget:.2f}")
    print(f"   ivif-bench, whole command {ours:.2f} ({peer / ours:.1f}x)")
    print(f"   python -c pass {interpreter:.2f}, python -c 'import torch' {with_torch:.2f}, reading the 120 images "
          f"{min(reading):.2f}")
    print(f"   compiled code over the 40 images: numba kernels {parts['numba kernels']:.2f} + torch operations "
          f"{parts['torch operations']:.2f} = {compiled:.2f} (Python and the rest: {parts['other']:.2f})")
    left = budget - with_torch - min(reading)
    verdict = (f"the compiled code would have to be {compiled / left:.1f}x faster and everything else take no time"
               if left > 0 else "torch's import and the reading alone are over the budget")
    print(f"   floor = torch import + reading + compiled = {floor:.2f} s = {peer / floor:.1f}x at best"
          + (f": over the budget; {verdict}" if floor > budget else ": under the budget"))

    size = tuple(int(x) for x in args.size.lower().split("x"))
    sized = [t for t, item in zip(arrays, images) if Image.open(item["ir"]).size == size]
    default = resolve_plan([(m, "default") for m in list_metrics("default")])
    fmi = [entry for entry in default if entry.name.startswith("FMI")]
    image_values(default, *sized[0])  # warm-up
    per_image, fmi_only = [], []
    for triplet in sized:
        per_image.append(min((profiled(default, [triplet]) for _ in range(args.repeats)),
                             key=lambda p: p["numba kernels"] + p["torch operations"]))
        fmi_only.append(min((profiled(fmi, [triplet]) for _ in range(args.repeats)),
                            key=lambda p: p["numba kernels"] + p["torch operations"]))

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    suite = median([p["numba kernels"] + p["torch operations"] for p in per_image])
    fmi_seconds = median([p["numba kernels"] + p["torch operations"] for p in fmi_only])
    figures["per_image"] = {"size": args.size, "pairs": len(sized), "metrics": len(default),
                            "compiled_median": suite, "fmi_compiled_median": fmi_seconds, "profiles": per_image}
    print(f"2. the default suite ({len(default)} metrics) per {args.size} TNO image ({len(sized)} pairs), one thread")
    print(f"   compiled code per image, median: {suite:.2f} s, of which FMI's three variants {fmi_seconds:.2f} s "
          f"(budget 1 s{': over it' if suite > 1 else ''})")
    figures["load_end"] = os.getloadavg()
    if args.json is not None:
        write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
