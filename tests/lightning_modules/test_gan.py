"""Two-layer GAN and FusionGAN (lightning_modules/gan.py) on real image patches.

Every run is tiny (32 x 32 patches, batches of 2) so that the file takes well
under two minutes on a shared 2-core CPU.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from datamodules.io import read_image, to_tensor
from lightning_modules import create_method, get_method_class
from lightning_modules.gan import Discriminator, FusionGAN, Generator, TwoLayerGAN, discriminator_output_size

PATCH = 32


def _flir_train_pair(data_root: Path, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    base = data_root / "IVIF-DIDFuse" / "Datasets" / "Train_data_FLIR"
    ir = to_tensor(read_image(base / "IR" / "IR" / f"IR{k}.jpg"))
    vis = to_tensor(read_image(base / "VIS" / "VIS" / f"VIS{k}.jpg"))
    return ir, vis


def real_patches(data_root: Path, count: int, ids=(1, 2), size: int = PATCH) -> list[dict]:
    """``count`` aligned IR / VIS patches (same window) from real flir_train pairs, in a fixed order."""
    patches = []
    corners = [(40 + 37 * i, 60 + 53 * i) for i in range(count)]
    for i, (top, left) in enumerate(corners):
        ir, vis = _flir_train_pair(data_root, ids[i % len(ids)])
        window = (slice(None), slice(top, top + size), slice(left, left + size))
        patches.append({"ir": ir[window], "vis": vis[window], "pair_id": str(ids[i % len(ids)])})
    return patches


def trainer(tmp_path: Path, **kwargs) -> L.Trainer:
    options = dict(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
        default_root_dir=tmp_path,
    )
    options.update(kwargs)
    return L.Trainer(**options)


def networks(model: TwoLayerGAN) -> dict[str, torch.nn.Module]:
    nets = {}
    for i, (g, d) in enumerate(zip(model.generators, model.discriminators)):
        nets[f"g{i + 1}"], nets[f"d{i + 1}"] = g, d
    return nets


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class StepAudit(L.Callback):
    """Hooks every optimizer: before / after each step, records which networks' parameters changed."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, set[str]]] = []  # (net the optimizer owns, nets whose parameters changed)
        self.grad_norms: list[float] = []

    def on_train_start(self, trainer, model) -> None:
        nets = networks(model)
        owner = {}
        for optimizer in trainer.optimizers:
            params = {id(p) for group in optimizer.param_groups for p in group["params"]}
            (name,) = [n for n, net in nets.items() if {id(p) for p in net.parameters()} == params]
            owner[id(optimizer)] = name

        def params_of(name):
            return {k: p.detach().clone() for k, p in nets[name].named_parameters()}

        def pre(optimizer, args, kwargs):
            self._before = {name: params_of(name) for name in nets}
            grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
            self.grad_norms.append(float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))))

        def post(optimizer, args, kwargs):
            changed = {name for name in nets if not same(self._before[name], params_of(name))}
            self.steps.append((owner[id(optimizer)], changed))

        for optimizer in trainer.optimizers:
            optimizer.register_step_pre_hook(pre)
            optimizer.register_step_post_hook(post)


# ------------------------------------------------------------------ networks
def test_registered_and_shapes():
    assert get_method_class("two_layer_gan") is TwoLayerGAN
    assert get_method_class("fusiongan") is FusionGAN
    two, one = create_method("two_layer_gan", patch_size=PATCH), create_method("fusiongan", patch_size=PATCH)
    assert len(two.generators) == len(two.discriminators) == 3
    assert len(one.generators) == len(one.discriminators) == 1
    assert two.automatic_optimization is False and one.hparams.layers == 1
    # spec 5.1: 128 -> 63 -> 31 -> 15 -> 7, so the linear layer sees 256 * 7 * 7 = 12,544 values
    assert discriminator_output_size(128) == 7
    assert Discriminator(128).linear.in_features == 12_544
    assert Discriminator(48).linear.in_features == 256 * 2 * 2
    with pytest.raises(ValueError, match="patch_size must be at least 31"):
        TwoLayerGAN(patch_size=30)
    with pytest.raises(ValueError, match="layers"):
        FusionGAN(layers=2)
    generator = Generator()
    convs = [m for m in generator.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(3, 3)] * 4 + [(1, 1)]
    assert all(c.padding == (0, 0) for c in convs)
    assert [c.out_channels for c in convs] == [256, 128, 64, 32, 1]


@pytest.mark.parametrize("name", ["two_layer_gan", "fusiongan"])
def test_fuse_odd_size_in_unit_range(data_root, name):
    ir, vis = _flir_train_pair(data_root, 3)
    ir, vis = ir[None, :, :97, :131], vis[None, :, :97, :131]
    model = create_method(name, patch_size=PATCH)
    model.train()
    with torch.no_grad():
        fused = model.fuse(ir, vis)
    assert fused.shape == (1, 1, 97, 131)
    assert fused.min() >= 0 and fused.max() <= 1 and torch.isfinite(fused).all()
    # eval-mode BN inside fuse, caller's mode restored, and BN statistics untouched
    assert all(g.training for g in model.generators)
    before = snapshot(model)
    with torch.no_grad():
        again = model.fuse(ir, vis)
    assert torch.equal(fused, again) and same(before, snapshot(model))
    # per-image BN statistics (FusionGAN's test script): same contract, running statistics untouched
    model.hparams.fuse_normalization = "batch"
    with torch.no_grad():
        per_image = model.fuse(ir, vis)
    assert per_image.shape == fused.shape and 0 <= per_image.min() <= per_image.max() <= 1
    assert not torch.equal(per_image, fused) and same(before, snapshot(model))
    with pytest.raises(ValueError, match="fuse_normalization"):
        create_method(name, patch_size=PATCH, fuse_normalization="instance")
    with pytest.raises(ValueError, match="at least 5 x 5"):
        model.fuse(ir[..., :4, :4], vis[..., :4, :4])
    with pytest.raises(ValueError, match="differ in shape"):
        model.fuse(ir, vis[..., :96, :])


def test_discriminator_refuses_other_patch_size(data_root, tmp_path):
    model = TwoLayerGAN(patch_size=PATCH)
    batch = real_patches(data_root, 2, size=48)
    loader = DataLoader(batch, batch_size=2)
    with pytest.raises(ValueError, match="patch_size"):
        trainer(tmp_path, max_steps=1).fit(model, loader)


# ---------------------------------------------------------------- optimizers
@pytest.mark.parametrize(
    ("name", "kwargs", "expected_order", "untouched"),
    [
        ("two_layer_gan", {}, ["d1", "d1", "g1", "d2", "d2", "g2"], ["g3", "d3"]),
        ("two_layer_gan", {"stage1_steps": 0}, ["d3", "d3", "g3"], ["g1", "d1", "g2", "d2"]),
        ("fusiongan", {}, ["d1", "d1", "g1"], []),
    ],
    ids=["stage1", "stage2", "fusiongan"],
)
def test_one_step_changes_only_the_stepped_network(data_root, tmp_path, name, kwargs, expected_order, untouched):
    torch.manual_seed(0)
    model = create_method(name, patch_size=PATCH, **kwargs)
    nets = networks(model)
    before = {n: snapshot(net) for n, net in nets.items()}
    audit = StepAudit()
    run = trainer(tmp_path, max_steps=1, callbacks=[audit])
    ends_in_stage1 = name == "two_layer_gan" and "g3" in untouched
    with pytest.warns(UserWarning, match="G3 was never trained") if ends_in_stage1 else contextlib.nullcontext():
        run.fit(model, DataLoader(real_patches(data_root, 2), batch_size=2))

    assert len(run.optimizers) == 2 * len(model.generators)
    assert [owner for owner, _ in audit.steps] == expected_order
    for owner, changed in audit.steps:
        assert changed == {owner}, f"the {owner} optimizer step changed {sorted(changed)}"
    assert run.global_step == len(expected_order)  # manual optimization: one step per optimizer.step()
    for n in untouched:  # parameters and BN statistics
        assert same(before[n], snapshot(nets[n])), f"{n} changed although its stage was idle"
    for n in set(nets) - set(untouched):
        assert not same(before[n], snapshot(nets[n])), f"{n} did not train"


def test_gradient_clipping_through_clip_gradients(data_root, tmp_path):
    torch.manual_seed(0)
    model = FusionGAN(patch_size=PATCH, gradient_clip_val=1e-3)
    audit = StepAudit()
    trainer(tmp_path, max_steps=1, callbacks=[audit]).fit(model, DataLoader(real_patches(data_root, 2), batch_size=2))
    assert len(audit.grad_norms) == 3
    assert all(norm <= 1e-3 * (1 + 1e-4) for norm in audit.grad_norms), audit.grad_norms


# ------------------------------------------------------------------ training
class LossRecorder(L.Callback):
    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []
        self.stages: list[int] = []

    def on_train_batch_start(self, trainer, model, batch, batch_idx) -> None:
        self.stages.append(model.stage)

    def on_train_batch_end(self, trainer, model, outputs, batch, batch_idx) -> None:
        self.rows.append({k: float(v) for k, v in trainer.callback_metrics.items() if k.endswith("_step")})


def test_losses_finite_over_20_steps_through_both_stages(data_root, tmp_path):
    torch.manual_seed(0)
    # 20 optimizer steps: two stage-1 batches (6 steps each), then three stage-2 batches (3 each).
    model = TwoLayerGAN(patch_size=PATCH, stage1_steps=12)
    recorder = LossRecorder()
    run = trainer(tmp_path, max_steps=20, callbacks=[recorder])
    run.fit(model, DataLoader(real_patches(data_root, 8, ids=(1, 2, 3, 4)), batch_size=2))
    assert recorder.stages == [1, 1, 2, 2, 2]
    assert run.global_step == 21
    stage1, stage2 = recorder.rows[0], recorder.rows[-1]
    for k in ("g1", "d1", "g2", "d2"):
        for part in ("loss", "adversarial", "content"):
            if k.startswith("g"):
                assert f"train/{k}_{part}_step" in stage1
        assert f"train/{k}_loss_step" in stage1
    assert {"train/g3_loss_step", "train/d3_loss_step", "train/d3_real_step", "train/d3_fake_step"} <= set(stage2)
    values = [v for row in recorder.rows for v in row.values()]
    assert values and all(math.isfinite(v) for v in values)
    # G3's content targets are G1 / G2 outputs, so its loss is on the scale of theirs, not zero
    assert stage2["train/g3_content_step"] > 0


def test_joint_schedule_steps_all_three_pairs(data_root, tmp_path):
    torch.manual_seed(0)
    model = TwoLayerGAN(patch_size=PATCH, schedule="joint")
    audit = StepAudit()
    trainer(tmp_path, max_steps=1, callbacks=[audit]).fit(model, DataLoader(real_patches(data_root, 2), batch_size=2))
    assert [owner for owner, _ in audit.steps] == ["d1", "d1", "g1", "d2", "d2", "g2", "d3", "d3", "g3"]
    assert all(changed == {owner} for owner, changed in audit.steps)


# ------------------------------------------------------------- checkpoints
class KeepOptimizerStates(L.Callback):
    """Copies every optimizer's state at train start and after global step ``at`` (when ModelCheckpoint saves)."""

    def __init__(self, at: int | None = None) -> None:
        self.at, self.saved, self.at_start = at, None, None

    def on_train_start(self, trainer, model) -> None:
        self.at_start = [_clone(o.state_dict()) for o in trainer.optimizers]

    def on_train_batch_end(self, trainer, model, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.at:
            self.saved = [_clone(o.state_dict()) for o in trainer.optimizers]


def _clone(tree):
    if isinstance(tree, torch.Tensor):
        return tree.detach().clone()
    if isinstance(tree, dict):
        return {k: _clone(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_clone(v) for v in tree)
    return tree


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.filterwarnings("ignore:Using ModelCheckpoint with manual optimization")
@pytest.mark.filterwarnings("ignore:You're resuming from a checkpoint that ended before the epoch ended")
@pytest.mark.filterwarnings("ignore:Be aware that when using `ckpt_path`")
def test_resume_mid_epoch_restores_all_optimizer_states(data_root, tmp_path):
    # One epoch = 3 identical batches of real patches, so a resumed run sees the same data
    # as the uninterrupted one wherever the (non-resumable) loader restarts.
    loader = DataLoader(real_patches(data_root, 2) * 3, batch_size=2)
    # stage 1 = batches 1 and 2 (6 steps each), stage 2 = batch 3 (3 steps): 15 steps in the epoch
    settings = dict(patch_size=PATCH, stage1_steps=12)

    L.seed_everything(0)
    keep, recorder = KeepOptimizerStates(at=6), LossRecorder()
    checkpoints = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=6, save_top_k=-1)
    full = TwoLayerGAN(**settings)
    run = trainer(tmp_path, max_epochs=1, enable_checkpointing=True, callbacks=[checkpoints, keep, recorder])
    run.fit(full, loader)
    assert recorder.stages == [1, 1, 2] and run.global_step == 15

    path = tmp_path / "ckpt" / "epoch=0-step=6.ckpt"  # after the first of three batches: mid-epoch, stage 1
    checkpoint = torch.load(path, weights_only=False)
    assert len(checkpoint["optimizer_states"]) == 6 and checkpoint["gan_stage"] == 1
    assert _equal(checkpoint["optimizer_states"], keep.saved)

    L.seed_everything(0)
    resumed_keep, resumed_recorder = KeepOptimizerStates(), LossRecorder()
    resumed = TwoLayerGAN(**settings)
    rerun = trainer(tmp_path, max_epochs=1, callbacks=[resumed_keep, resumed_recorder])
    rerun.fit(resumed, loader, ckpt_path=path)
    assert resumed.restored_stage == 1
    assert _equal(resumed_keep.at_start, keep.saved)  # all six Adam states restored exactly
    assert resumed_recorder.stages == [1, 2] and rerun.global_step == 15
    # and training continues identically (bitwise on CPU): same nets, same optimizer states
    assert same(snapshot(full), snapshot(resumed))
    assert _equal([o.state_dict() for o in run.optimizers], [o.state_dict() for o in rerun.optimizers])


# ------------------------------------------------------------------ configs
CONFIG_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "configs"


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
@pytest.mark.parametrize("name", ["two_layer_gan", "fusiongan"])
def test_configs_build_a_consistent_model_and_data(data_root, tmp_path, name, profile):
    from benchmarks.commands.train import build_cli

    path = CONFIG_DIR / name / f"{profile}.yaml"
    cli = build_cli(["--config", str(path), "--data.init_args.data_root", str(data_root),
                     "--trainer.default_root_dir", str(tmp_path)], run=False)
    assert type(cli.model) is get_method_class(name)
    data = cli.datamodule.hparams
    assert data.train_mode == "patches" and data.crop_size == cli.model.hparams.patch_size
    assert path.read_text().startswith("#")  # the comment block saying what the profile changes
    if cli.model.hparams.layers == 2 and cli.model.hparams.stage1_steps is not None:  # both stages happen
        assert 0 < cli.model.hparams.stage1_steps < cli.trainer.max_steps
    if profile == "smoke":
        assert data.test_ids == "1-2"


def test_train_command_runs_the_smoke_config(data_root, tmp_path):
    from benchmarks.cli import main as cli

    config = CONFIG_DIR / "two_layer_gan" / "smoke.yaml"
    code = cli(["train", "--config", str(config), "--data.init_args.data_root", str(data_root),
                "--trainer.default_root_dir", str(tmp_path)])
    assert code == 0
    (path,) = (tmp_path / "checkpoints").glob("*.ckpt")
    checkpoint = torch.load(path, weights_only=False)
    assert checkpoint["global_step"] == 18 and checkpoint["gan_stage"] == 2  # 2 stage-1 + 2 stage-2 batches
    assert len(checkpoint["optimizer_states"]) == 6
    model = TwoLayerGAN.load_from_checkpoint(path)
    ir, vis = _flir_train_pair(data_root, 5)
    with torch.no_grad():
        fused = model.fuse(ir[None, :, :45, :61], vis[None, :, :45, :61])
    assert fused.shape == (1, 1, 45, 61) and 0 <= fused.min() <= fused.max() <= 1
