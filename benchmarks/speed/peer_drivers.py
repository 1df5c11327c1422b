"""The peer evaluation codes run as their own scripts run them, one subprocess each (driven by peer_metrics.py).

Nothing here imports ivif-bench: each driver is what a user of that code would run,
so its process time is the peer's whole command.

* ``cddfuse``: ``utils/Evaluator.py`` of Zhaozixiang1228/MMIF-CDDFuse exactly as its
  ``test_IVF.py`` calls it: images read by ``image_read_cv2(path, 'GRAY')`` (OpenCV), then
  ``Evaluator.EN(fi)``, ``Evaluator.MI(fi, ir, vi)``, ... for its 12 metrics. scikit-image
  >= 0.20 refuses float input without ``data_range``; its 0.19 default, ``data_range = 2``,
  is passed (what the code computed when it was written).
* ``zoo``: ``Metric/Metric_torch.py`` of RollingPlain/IVIF_ZOO, inputs prepared as its
  ``eval_torch.py`` ``evaluation_one`` prepares them (PIL ``convert('L')``, float32 tensors on
  ``--device``, int32 / float32 arrays), the metric functions ivif-bench also has. Where
  torchvision is not installed, its ``to_tensor`` (used by ``ssim.py`` on 2-D float arrays:
  ``from_numpy(x[None])``) is supplied.

Output: a JSON file ``{"values": {metric: {image: value}}, "compute_s": {metric: s},
"import_s": s}`` (process CPU seconds, one thread).

  python benchmarks/speed/peer_drivers.py cddfuse REPO IMAGES.json OUT.json
"""

from __future__ import annotations

import json
import sys
import time
import types
from pathlib import Path

#: CDDFuse Evaluator calls in test_IVF.py's form: name -> (method, needs the sources)
CDDFUSE_CALLS = {"EN": ("EN", False), "SD": ("SD", False), "SF": ("SF", False), "AG": ("AG", False),
                 "MI": ("MI", True), "SCD": ("SCD", True), "VIF": ("VIFF", True), "Qabf": ("Qabf", True),
                 "SSIM": ("SSIM", True), "MSE": ("MSE", True), "CC": ("CC", True), "PSNR": ("PSNR", True)}

#: IVIF_ZOO function -> which of evaluation_one's prepared inputs it takes
ZOO_CALLS = {"EN": ("EN_function", "f"), "MI": ("MI_function", "int3"), "SF": ("SF_function", "f"),
             "AG": ("AG_function", "f"), "SD": ("SD_function", "f"), "CC": ("CC_function", "tensor3"),
             "SCD": ("SCD_function", "tensor3"), "VIF": ("VIF_function", "tensor3"),
             "MSE": ("MSE_function", "tensor3"), "PSNR": ("PSNR_function", "tensor3"),
             "Qabf": ("Qabf_function", "double3"), "SSIM": ("SSIM_function", "double3"),
             "MS_SSIM": ("MS_SSIM_function", "double3"), "EI": ("EI_function", "f"),
             "Qcb": ("Qcb_function", "tensor3")}


def _number(value) -> float:
    return float(value.item() if hasattr(value, "item") else value)


def run_cddfuse(repo: Path, images: list[dict]) -> dict:
    start = time.process_time()
    sys.path.insert(0, str(repo))
    import re
    from functools import partial

    import numpy as np  # noqa: F401  (what Evaluator.py imports, timed with it)
    import skimage
    import utils.Evaluator as evaluator_module
    from utils.Evaluator import Evaluator
    from utils.img_read_save import image_read_cv2

    if tuple(int(p) for p in re.findall(r"\d+", skimage.__version__)[:2]) >= (0, 20):
        evaluator_module.ssim = partial(evaluator_module.ssim, data_range=2)  # skimage 0.19's float default
    imported = time.process_time() - start
    values = {name: {} for name in CDDFUSE_CALLS}
    compute = dict.fromkeys(CDDFUSE_CALLS, 0.0)
    for item in images:
        ir = image_read_cv2(item["ir"], "GRAY")
        vi = image_read_cv2(item["vis"], "GRAY")
        fi = image_read_cv2(item["fused"], "GRAY")
        for name, (method, sources) in CDDFUSE_CALLS.items():
            call = getattr(Evaluator, method)
            t0 = time.process_time()
            value = call(fi, ir, vi) if sources else call(fi)
            compute[name] += time.process_time() - t0
            values[name][item["id"]] = _number(value)
    return {"values": values, "compute_s": compute, "import_s": imported}


def _torchvision_stand_in() -> None:
    """``torchvision.transforms.functional.to_tensor`` for 2-D float arrays, where torchvision is missing."""
    try:
        import torchvision.transforms.functional  # noqa: F401
        return
    except ImportError:
        pass
    import torch

    def to_tensor(pic):  # torchvision: HxW -> 1xHxW, float arrays keep their values
        if pic.ndim != 2 or pic.dtype.kind != "f":
            raise TypeError("this stand-in covers the 2-D float arrays IVIF_ZOO passes")
        return torch.from_numpy(pic[None]).contiguous()

    functional = types.ModuleType("torchvision.transforms.functional")
    functional.to_tensor = to_tensor
    transforms = types.ModuleType("torchvision.transforms")
    transforms.functional = functional
    package = types.ModuleType("torchvision")
    package.transforms = transforms
    sys.modules.update({"torchvision": package, "torchvision.transforms": transforms,
                        "torchvision.transforms.functional": functional})


def run_zoo(repo: Path, images: list[dict], device: str) -> dict:
    start = time.process_time()
    import warnings

    warnings.filterwarnings("ignore")  # as eval_torch.py
    sys.path.insert(0, str(repo / "Metric"))
    import numpy as np
    import torch
    from PIL import Image

    torch.set_num_threads(1)
    _torchvision_stand_in()
    import Metric_torch as zoo

    imported = time.process_time() - start
    device = torch.device(device)
    values = {name: {} for name in ZOO_CALLS}
    compute = dict.fromkeys(ZOO_CALLS, 0.0)
    for item in images:
        f_img, ir_img, vi_img = (Image.open(item[k]).convert("L") for k in ("fused", "ir", "vis"))
        tensors = [torch.tensor(np.array(x)).float().to(device) for x in (ir_img, vi_img, f_img)]
        ints = [np.array(x).astype(np.int32) for x in (ir_img, vi_img, f_img)]
        doubles = [np.array(x).astype(np.float32) for x in (ir_img, vi_img, f_img)]
        arguments = {"f": (tensors[2],), "tensor3": tuple(tensors), "int3": (*ints, 256), "double3": tuple(doubles)}
        for name, (function, inputs) in ZOO_CALLS.items():
            call = getattr(zoo, function)
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.process_time()
            value = _number(call(*arguments[inputs]))
            compute[name] += time.process_time() - t0
            values[name][item["id"]] = value
    return {"values": values, "compute_s": compute, "import_s": imported}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (4, 5) or argv[0] not in ("cddfuse", "zoo"):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    peer, repo, images_file, out = argv[0], Path(argv[1]), Path(argv[2]), Path(argv[3])
    images = json.loads(images_file.read_text())
    result = run_cddfuse(repo, images) if peer == "cddfuse" else run_zoo(repo, images, argv[4] if len(argv) > 4
                                                                                  else "cpu")
    out.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
