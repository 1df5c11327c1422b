"""The embedded sample: real pairs, small, documented, and enough to train every method with no data root."""

from __future__ import annotations

import importlib
from pathlib import Path

import lightning as L
import pytest
import yaml

from datamodules import FusionDataModule, get_dataset, list_datasets, load_pairs
from datamodules.datasets import SAMPLE_DIR, load_manifest

CONFIGS = Path(__file__).resolve().parents[2] / "benchmarks" / "configs"
UPSTREAM = {"sample_tno": ("tno", "Datasets/Test_data_TNO/"), "sample_flir": ("flir", "Datasets/Test_data_FLIR/"),
            "sample_nir": ("nir", "Datasets/Test_data_NIR_Country/"),
            "sample_flir_train": ("flir_train", "Datasets/Train_data_FLIR/{kind}/{kind}/")}


def test_sample_is_small_real_and_documented():
    total = sum(p.stat().st_size for p in SAMPLE_DIR.rglob("*") if p.is_file())
    assert total < 5 * 2**20
    source = (SAMPLE_DIR / "SOURCE.md").read_text()
    assert "CC BY 4.0" in source and "sample_flir_train" in source
    assert list_datasets(embedded=True) == list(UPSTREAM)
    for name, (parent_name, upstream) in UPSTREAM.items():
        parent = load_manifest(parent_name)
        for path, record in load_manifest(name)["files"].items():  # byte-identical to the upstream files
            file = path.split("/", 1)[1]
            kind = "IR" if file.startswith("IR") else "VIS"
            assert parent["files"][upstream.format(kind=kind) + file] == record, path
    assert [p.pair_id for p in load_pairs("sample_flir_train")] == [str(k) for k in range(1, 9)]
    assert get_dataset("sample_flir_train").vis_color and not get_dataset("sample_tno").vis_color


def _config(method: str, profile: str) -> dict:
    return yaml.safe_load((CONFIGS / method / f"{profile}.yaml").read_text())


METHODS = sorted(p.name for p in CONFIGS.iterdir() if (p / "smoke.yaml").is_file())


@pytest.mark.parametrize("profile", ["smoke", "quick"])
@pytest.mark.parametrize("method", METHODS)
def test_every_profile_finds_its_training_data_in_the_sample(method, profile, tmp_path):
    data = dict(_config(method, profile)["data"]["init_args"])
    assert data["train_dataset"] == "flir_train"  # the sample stands in for it, same ids
    data.update(train_dataset="sample_flir_train", test_datasets=["sample_tno"], test_ids=None,
                data_root=str(tmp_path / "no-data-root"))
    dm = FusionDataModule(**data)
    dm.setup("fit")
    assert len(dm.data_train) >= data["batch_size"]
    batch = next(iter(dm.train_dataloader()))
    key = "image" if data.get("unpaired") else "ir"
    assert batch[key].shape[-2:] == (data["crop_size"],) * 2


@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains_its_smoke_profile_on_the_sample(method, tmp_path):
    """The smoke config's own steps (4 to 18 optimizer steps), with ``train_dataset: sample_flir_train``."""
    config = _config(method, "smoke")
    module, _, name = config["model"]["class_path"].rpartition(".")
    model = getattr(importlib.import_module(module), name)(**config["model"].get("init_args", {}))
    data = dict(config["data"]["init_args"], train_dataset="sample_flir_train", test_datasets=[],
                data_root=str(tmp_path / "no-data-root"))
    steps = config["trainer"]["max_steps"]
    trainer = L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
                        accelerator="cpu", devices=1)
    trainer.fit(model, datamodule=FusionDataModule(**data))
    assert trainer.global_step == steps
