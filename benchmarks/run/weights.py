"""Where a method's weights come from in a run, and building a model on its authors' released weights.

Every (method, seed) of a run gets its model one way, recorded in each done
marker (``"weights"``) and in the ``weights`` column of ``results.csv``
(:func:`benchmarks.report.results.weights_label`):

* ``none``: a reference rule (``needs_training = False``) has no weights;
* ``official``: the authors' released weights (``cls.from_official``, the
  artifact named by the class's ``official_weights``, sha256-verified from the
  data root or the user cache): under the ``pretrained`` profile, with
  ``--ckpt METHOD=official``, and always for a pretrained-only method
  (``pretrained_only = True``: IFCNN, whose training set is not in the
  benchmark's data) unless a checkpoint file is given;
* ``trained``: trained in this run dir under the run's profile and seed (or its
  ``final.ckpt`` reused);
* ``checkpoint``: a user checkpoint (``--ckpt METHOD=PATH``).

A method has released weights when its class has ``official_weights`` (an
artifact name) and a ``from_official(data_root=..., **hyper_parameters)``
classmethod: the test is on the class, so a plugin's method with released
weights joins the ``pretrained`` profile like the built-in ones. Its
hyper-parameters come from :func:`benchmarks.profiles.pretrained_config`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Sequence

from datamodules.errors import UserError

from benchmarks.run.plan import MethodPlan, RunError, check_checkpoint

if TYPE_CHECKING:  # pragma: no cover
    from benchmarks.profiles import Profile
    from benchmarks.run.plan import Plan

__all__ = ["OFFICIAL", "build_official", "check_released_weights", "has_released_weights", "is_pretrained_only",
           "methods_with_released_weights", "official_signature", "plan_untrained", "uses_released_weights",
           "weights_origin"]

#: the ``--ckpt METHOD=official`` value: the authors' released weights
OFFICIAL = "official"


def has_released_weights(cls: type) -> bool:
    """Whether a method class can be built on its authors' released weights (``official_weights`` + ``from_official``,
    the test of ``list_methods(released_weights=True)``)."""
    return bool(getattr(cls, "official_weights", None)) and callable(getattr(cls, "from_official", None))


def is_pretrained_only(cls: type) -> bool:
    """Whether a method class has no training here (``pretrained_only = True``): it always runs on released weights."""
    return bool(getattr(cls, "pretrained_only", False))


def methods_with_released_weights(names: Sequence[str] | None = None) -> list[str]:
    """The registered methods (of ``names``, default all) whose class has released weights, in registry order."""
    from lightning_modules import list_methods

    released = list_methods(released_weights=True)
    return released if names is None else [n for n in names if n in released]


def uses_released_weights(method: str, checkpoint: str | os.PathLike | None, profile_released: bool) -> bool:
    """Whether ``method`` runs on its released weights in a run (see the module docstring).

    Args:
        method: a registered method.
        checkpoint: its ``--ckpt`` value: ``"official"``, a path, or ``None``.
        profile_released: the profile runs methods on released weights (``pretrained``).

    Raises:
        UserError: ``--ckpt METHOD=official`` for a method without released weights, or a
            pretrained-only method whose class has none.
    """
    from lightning_modules import get_method_class

    cls = get_method_class(method)
    wanted = (checkpoint is not None and str(checkpoint) == OFFICIAL) or (
        checkpoint is None and (profile_released or is_pretrained_only(cls)))
    if wanted and not has_released_weights(cls):
        with_weights = ", ".join(methods_with_released_weights()) or "none"
        why = (f"--ckpt {method}={OFFICIAL}" if checkpoint is not None else
               f"{method!r} is pretrained only" if is_pretrained_only(cls) else "the pretrained profile")
        raise UserError(f"{why}: method {method!r} has no released weights (a class attribute official_weights "
                        f"and from_official); methods with released weights: {with_weights}")
    return wanted


def build_official(method: str, config: dict[str, Any], data_root: str | os.PathLike | None = None):
    """The model of ``method`` on its released weights, with the ``model.init_args`` of its resolved ``config``.

    Calls ``cls.from_official(data_root=data_root, **init_args)`` (the weights are read
    from the data root, else the user cache dir, and checked against their sha256).

    Raises:
        UserError: the weights are missing or altered (the message names the file and
            ``ivif-bench data download <artifact>``), or the file is not the method's.
    """
    from lightning_modules import get_method_class

    cls = get_method_class(method)
    init_args = dict(config.get("model", {}).get("init_args") or {})
    try:
        model = cls.from_official(data_root=data_root, **init_args)
    except UserError:  # WeightsNotFoundError / WeightsError: they name the file and the command
        raise
    except (FileNotFoundError, ValueError) as err:  # a plugin's own file checks
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise UserError(f"{method}: its released weights ({getattr(cls, 'official_weights', '?')}) do not load: "
                        f"{first}") from None
    return model.eval()


def _artifact_files(artifact: str) -> dict[str, str] | None:
    """``{path: sha256}`` of a registered artifact, or ``None`` for one the manifest does not know (a plugin's)."""
    from datamodules.weights import artifact_files, list_artifacts

    if artifact not in list_artifacts():
        return None
    return {f.path: f.sha256 for f in artifact_files(artifact)}


def official_signature(plan: Plan, method: str, seed: int) -> dict[str, Any]:
    """What the fused images of a method on released weights depend on: the artifact (its files' sha256) and the
    model's hyper-parameters. A change of either redoes its units."""
    from lightning_modules import get_method_class

    artifact = str(getattr(get_method_class(method), "official_weights"))
    init_args = plan.resolved_config(method, seed)["model"].get("init_args") or {}
    return {"kind": OFFICIAL, "artifact": artifact, "files": _artifact_files(artifact),
            "hyper_parameters": {k: init_args[k] for k in sorted(init_args)}}


def weights_origin(plan: Plan, method: MethodPlan, seed: int, checkpoint: str | os.PathLike | None) -> dict[str, Any]:
    """The done marker's ``"weights"`` record of (method, seed): ``kind`` none / official / trained / checkpoint,
    with the artifact, the profile and seed, or the checkpoint's path (see the module docstring)."""
    from datamodules.download import sha256_of

    if method.official:
        return official_signature(plan, method.name, seed)
    if not method.trainable:
        return {"kind": "none"}
    record: dict[str, Any] = {"checkpoint": None if checkpoint is None else str(checkpoint),
                              "sha256": sha256_of(checkpoint) if checkpoint is not None else None}
    if method.checkpoint is not None:
        return {"kind": "checkpoint", **record}
    return {"kind": "trained", "profile": plan.options.profile, "seed": int(seed), **record}


# ------------------------------------------------------------------ planning (called by benchmarks.run.plan)
def plan_untrained(methods: list[MethodPlan], method: str, checkpoint: str | None, profile: Profile) -> bool:
    """Plan a trainable method that the run does not train, appending it to ``methods``: on its released weights
    (the ``pretrained`` profile, ``--ckpt METHOD=official``, a pretrained-only method), or from a user
    checkpoint under the ``pretrained`` profile. Returns ``False`` when the profile's own config applies.

    Raises:
        RunError: released weights asked of a method without them; a bad checkpoint file.
    """
    from benchmarks import profiles

    try:
        official = uses_released_weights(method, checkpoint, profile.released_weights)
    except UserError as err:
        raise RunError(str(err)) from None
    if official:
        methods.append(MethodPlan(method, False, profiles.pretrained_config(method), None, official=True))
        return True
    if profile.released_weights:  # a user checkpoint under the pretrained profile: nothing is trained either
        methods.append(MethodPlan(method, True, profiles.pretrained_config(method), check_checkpoint(method, checkpoint)))
        return True
    return False


def check_released_weights(plan: Plan, explicit: bool) -> None:
    """Fetch (``--download``) and load the released weights of every method on them, before any work.

    Missing or altered weights stop the run, naming the file and ``ivif-bench data download <artifact>``,
    when the method was asked for (``explicit`` ``--methods``, ``--ckpt METHOD=official``, the
    ``pretrained`` profile); a pretrained-only method that joined ``--methods all`` of another profile is
    skipped with that reason instead (``plan.skipped``).

    Raises:
        RunError: weights that cannot be loaded, each named, and the one command that fetches them all.
    """
    from benchmarks import profiles
    from lightning_modules import get_method_class

    official = [m for m in plan.methods if m.official]
    if not official:
        return
    options = plan.options
    if options.download:
        from datamodules.weights import download_weights, list_artifacts

        wanted = dict.fromkeys(str(getattr(get_method_class(m.name), "official_weights")) for m in official)
        download_weights([a for a in wanted if a in list_artifacts()], options.data_root,
                         progress=lambda line: print(f"  fetched {line}"))
    required = explicit or profiles.get_profile(options.profile).released_weights
    failed = []
    for method in list(official):
        try:
            build_official(method.name, plan.resolved_config(method.name, options.seeds[0]), options.data_root)
        except UserError as err:
            if required or method.name in options.checkpoints:
                failed.append(f"{method.name}: {err}")
            else:
                plan.skipped.append((method.name, f"released weights not available ({err})"))
                plan.methods.remove(method)
    if failed:
        root = f" --data-root {options.data_root}" if options.data_root else ""
        raise RunError("released weights not available: " + "; ".join(failed)
                       + f"; every method's released weights in one command: ivif-bench data download weights{root}")
