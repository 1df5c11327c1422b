"""Fuse every pair of a dataset with a trained method and write 8-bit PNGs.

  ivif-bench fuse --method didfuse --ckpt runs/train/didfuse-quick/checkpoints/last.ckpt --dataset tno --out fused/
  ivif-bench fuse --method didfuse --ckpt official --dataset flir --out fused/ --data-root ../shared/data
  ivif-bench fuse --method average --dataset my_pairs/ --ids 1-4 --out fused/

Writes OUT/<pair_id>.png for each pair (uint8 = rint(clamp(y, 0, 1) * 255)) and
OUT/provenance.json (the command, method, checkpoint, pairs, versions, colour).
A pair whose visible image is colour (vifb, roadscene, a folder of colour
images) is fused in colour: the method fuses the visible Y with the infrared
image, the fused Y goes back with the visible Cb and Cr, and an RGB PNG is
written (datamodules/color.py; its PIL "L" is the fused Y wherever the RGB did
not clip); --color gray fuses every pair gray, as the visible luminance.
--ckpt is a Lightning checkpoint of --method (one of another method is refused);
`official` loads the authors' released weights (didfuse, densefuse, ifcnn: from
the data root, else the user cache; fetch them once with `ivif-bench data download
weights`), the default of a pretrained-only method (ifcnn); the reference rules
(average, max) need none. --dataset is a registered name or a folder with
ir/ + vis/ (or IR* / VIS* files). Images are fused at full size (in tiles above
1 Mpx, with the untiled result: FusionModule.fuse_large).
"""

from __future__ import annotations

import argparse
import inspect
import time
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, help="a registered method (see `ivif-bench run --help`)")
    parser.add_argument("--ckpt", default=None,
                        help="Lightning checkpoint of the method; 'official' for the authors' released weights "
                             "(didfuse, densefuse, ifcnn; ifcnn is pretrained only: official is its default)")
    parser.add_argument("--dataset", required=True, help="registered dataset name or folder of pairs")
    parser.add_argument("--out", required=True, type=Path, help="output folder for <pair_id>.png")
    parser.add_argument("--data-root", default=None, help="data root (default: $IVIF_BENCH_DATA, else the user cache dir)")
    parser.add_argument("--ids", default=None, help="only these pair ids, e.g. 1-8,12")
    parser.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda, cuda:1, or auto")
    parser.add_argument("--color", default="auto", choices=["auto", "gray"],
                        help="auto: pairs whose visible image is colour are fused in colour (the method fuses the "
                             "visible Y; RGB PNGs with the visible Cb, Cr); gray: every pair gray (default: auto)")
    parser.add_argument("--fusion-strategy", default=None,
                        help="override the checkpoint's fusion rule (didfuse: sum, average, l1_norm; "
                             "densefuse: addition, mean, l1_norm)")


def _identify(state_keys: set[str]) -> list[str]:
    """Registered methods whose freshly built model has exactly these state-dict keys."""
    from lightning_modules import create_method, list_methods

    matches = []
    for name in list_methods():
        try:
            if set(create_method(name).state_dict()) == state_keys:
                matches.append(name)
        except Exception:  # noqa: BLE001 - a method that cannot be built with defaults cannot match
            continue
    return matches


def load_method(method: str, ckpt: str | None, data_root: str | None = None, overrides: dict | None = None):
    """Build ``method`` from a checkpoint (or its authors' released weights, or nothing for reference rules).

    ``ckpt`` ``"official"`` (the default of a pretrained-only method) builds ``cls.from_official(data_root=...,
    **overrides)`` (:func:`benchmarks.run.weights.build_official`).

    Raises:
        UserError: unknown method, missing or foreign checkpoint, a checkpoint where none applies.
    """
    import torch

    from datamodules.errors import UserError
    from lightning_modules import create_method, get_method_class, list_methods

    if method not in list_methods():
        raise UserError(f"unknown method {method!r}; registered: {', '.join(list_methods())}")
    cls = get_method_class(method)
    overrides = overrides or {}
    unknown = [key for key in overrides if key not in inspect.signature(cls.__init__).parameters]
    if unknown:
        raise UserError(f"method {method!r} has no hyper-parameter {', '.join(unknown)}")
    model = _official(method, cls, ckpt, data_root, overrides)
    if model is not None:
        return model
    if ckpt is None:
        if getattr(cls, "needs_training", True):
            from benchmarks.run.weights import has_released_weights

            released = ", or 'official' for its authors' released weights" if has_released_weights(cls) else ""
            raise UserError(f"method {method!r} needs --ckpt (a checkpoint from `ivif-bench train`{released})")
        return create_method(method, **overrides)
    path = Path(ckpt)
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        state_keys = set(checkpoint["state_dict"])
    except Exception as err:  # noqa: BLE001 - anything unreadable is not a checkpoint
        raise UserError(f"{path}: not a Lightning checkpoint (torch.load: {type(err).__name__})") from None
    expected = set(create_method(method).state_dict())
    if state_keys != expected:
        others = [m for m in _identify(state_keys) if m != method]
        what = f"a {' / '.join(others)} checkpoint" if others else "a checkpoint of another model"
        raise UserError(f"{path}: {what}, not {method!r}; pass the matching --method")
    try:
        return cls.load_from_checkpoint(path, map_location="cpu", **overrides)
    except (TypeError, ValueError, RuntimeError, KeyError) as err:
        raise UserError(f"{path}: cannot load as {method!r} ({str(err).splitlines()[0][:200]})") from None


def _official(method: str, cls: type, ckpt: str | None, data_root: str | None, overrides: dict):
    """The model on its released weights when ``ckpt`` is ``official`` (or absent for a pretrained-only method),
    else ``None``. Raises UserError for a method without released weights, naming those that have them."""
    from benchmarks.run.weights import OFFICIAL, build_official, uses_released_weights
    from datamodules.errors import UserError

    if ckpt not in (None, OFFICIAL):
        return None
    try:
        if not uses_released_weights(method, ckpt, profile_released=False):
            return None
    except UserError as err:
        raise UserError(str(err).replace(f"--ckpt {method}={OFFICIAL}", f"--ckpt {OFFICIAL}")) from None
    return build_official(method, {"model": {"init_args": overrides}}, data_root)


def resolve_device(name: str):
    import torch

    from datamodules.errors import UserError

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name!r} is not a torch device (cpu, cuda, cuda:1, auto)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine")
    return device


def fuse_pair(model, pair, device, color: str = "auto"):
    """Fuse one pair as ``ivif-bench fuse`` does; returns ``(image to write, share of clipped pixels or None)``.

    A colour visible image (with ``color="auto"``) is fused in colour
    (:meth:`FusionModule.fuse_color`): 3 x H x W RGB on the 8-bit grid; otherwise the
    gray fusion of the luminances, 1 x H x W. Large images are fused in tiles
    (:meth:`FusionModule.fuse_large`, same result).
    """
    import torch

    from datamodules.datasets import read_pair_color
    from datamodules.io import to_tensor

    ir, vis, vis_rgb = read_pair_color(pair)
    ir = to_tensor(ir)[None].to(device)
    with torch.no_grad():
        if vis_rgb is not None and color == "auto":
            vis_rgb = torch.from_numpy(vis_rgb.transpose(2, 0, 1).copy())[None].to(device)
            fused = model.fuse_color(ir, vis_rgb)
            return fused.rgb[0], float(fused.clipped.to(torch.float64).mean())
        return model.fuse_large(ir, to_tensor(vis)[None].to(device))[0], None


def _colour_provenance(mode: str, clipped: dict[str, float | None]) -> dict:
    """The ``color`` record of ``OUT/provenance.json``: mode, transform, pairs fused in colour, clipped shares."""
    from datamodules.color import COLOR_FUSION, TRANSFORM

    colour = {pair_id: share for pair_id, share in clipped.items() if share is not None}
    return {"mode": mode, "transform": TRANSFORM, "description": COLOR_FUSION, "colour_pairs": len(colour),
            "clipped": colour}


def main(args: argparse.Namespace) -> int:
    from benchmarks.provenance import collect, write_json
    from datamodules.color import COLOR_FUSION
    from datamodules.datasets import load_pairs
    from datamodules.io import save_png

    from benchmarks.outputs import check_output_dir

    check_output_dir(args.out, "--out")  # before any model is loaded or pair fused
    device = resolve_device(args.device)
    overrides = {"fusion_strategy": args.fusion_strategy} if args.fusion_strategy else {}
    pairs = load_pairs(args.dataset, args.data_root, args.ids)
    model = load_method(args.method, args.ckpt, args.data_root, overrides).eval().to(device)
    start = time.perf_counter()
    clipped: dict[str, float | None] = {}
    for pair in pairs:
        fused, clipped[pair.pair_id] = fuse_pair(model, pair, device, args.color)
        save_png(args.out / f"{pair.pair_id}.png", fused)
    seconds = time.perf_counter() - start
    colour = _colour_provenance(args.color, clipped)
    write_json(args.out / "provenance.json", collect(
        method=args.method, ckpt=args.ckpt, dataset=str(args.dataset), data_root=args.data_root,
        fusion_strategy=args.fusion_strategy, device=str(device), pairs=[p.pair_id for p in pairs], color=colour))
    print(f"fused {len(pairs)} pair{'s' if len(pairs) != 1 else ''} of {args.dataset} with {args.method} into {args.out} ({seconds:.1f} s)")
    if colour["colour_pairs"]:
        print(f"colour: {colour['colour_pairs']} of {len(pairs)} pairs fused in colour, RGB PNGs: {COLOR_FUSION}; "
              "--color gray to fuse gray")
    return 0
