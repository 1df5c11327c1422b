"""A degenerate fused image reaches the user once per (pair, metric) in `ivif-bench run` (FusionModule.test_step,
the metric classes in a MetricCollection) and in `ivif-bench evaluate`, never once per channel or batch element."""

from __future__ import annotations

import warnings
from collections import Counter

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from datamodules import FusionDataModule, load_pairs
from lightning_modules import create_method
from metrics.degenerate import DegenerateInputWarning
from metrics.evaluate import evaluate_folder

METRICS = ["EN", "CC", "Qcb", "SCD", "Qabf"]  # CC warns once per source inside; Qcb: the black image; SCD: defined


def _black_method():
    base = type(create_method("max"))

    class Black(base):
        def fuse(self, ir, vis):
            return torch.zeros_like(ir)

    return Black()


def _degenerate(caught) -> Counter:
    return Counter(str(w.message) for w in caught if issubclass(w.category, DegenerateInputWarning))


def test_run_warns_once_per_pair_and_metric(data_root):
    data = FusionDataModule(train_dataset=None, test_datasets=["sample_tno"], data_root=str(data_root))
    model = _black_method()
    model.configure_test(METRICS, metric_device="cpu")
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.test(model, datamodule=data, verbose=False)
    said = _degenerate(caught)
    pairs = [p.pair_id for p in load_pairs("sample_tno", data_root=data_root)]
    for metric in ("CC", "Qcb"):
        for pair in pairs:
            mine = [m for m in said if f"pair {pair} of 'sample_tno'" in m and f"{metric} (default)" in m]
            assert len(mine) == 1 and said[mine[0]] == 1, (metric, pair, said)
    assert not [m for m in said if "EN (default)" in m]  # EN of a black image is 0: defined, nothing to say
    values = model.test_results["sample_tno"]["values"]
    assert np.isnan(values["Qcb"]).all() and np.isnan(values["CC"]).all()


def test_evaluate_warns_once_per_image_and_metric(tmp_path, data_root):
    pairs = load_pairs("sample_tno", data_root=data_root)
    for pair in pairs:
        size = Image.open(pair.ir_path).size
        Image.new("L", size, 0).save(tmp_path / f"{pair.pair_id}.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = evaluate_folder(tmp_path, "sample_tno", metrics=METRICS, convention="all", progress=False)
    said = _degenerate(caught)
    for pair in pairs:
        for metric, convention in (("CC", "default"), ("CC", "cddfuse"), ("Qcb", "default"), ("Qcb", "vifb"),
                                   ("CC", "tang")):
            mine = [m for m in said if f"sample_tno {pair.pair_id}: {metric} ({convention})" in m]
            assert len(mine) == 1 and said[mine[0]] == 1, (metric, convention, pair.pair_id, said)
    assert table[table.metric == "Qcb"].value.isna().all()


def test_metric_class_names_each_image_once_whatever_the_batch_and_channels():
    from metrics import get_metric

    g = torch.Generator().manual_seed(0)
    sources = [torch.round(torch.rand(4, 3, 24, 24, generator=g, dtype=torch.float64) * 255) / 255 for _ in range(2)]
    fused = torch.rand(4, 3, 24, 24, generator=g, dtype=torch.float64).mul(255).round().div(255)
    fused[1] = 0  # one black image in the batch, in colour: VIFB's Qcb runs per channel
    metric = get_metric("Qcb", "vifb")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metric.update(fused, *sources, image_ids=["a", "b", "c", "d"])
    said = _degenerate(caught)
    assert list(said.values()) == [1] and next(iter(said)).startswith("b: Qcb (vifb): ")
    values = metric.per_image()
    assert torch.isnan(values[1]) and torch.isfinite(values[[0, 2, 3]]).all()


@pytest.mark.parametrize("ids", [None, ["x"]])
def test_metric_class_without_ids_names_index_and_size(ids):
    from metrics import get_metric

    flat = torch.full((1, 1, 16, 16), 0.5, dtype=torch.float64)
    metric = get_metric("CC")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metric.update(flat, flat, flat, image_ids=ids)
        metric.update(flat, flat, flat, image_ids=ids)
    said = [str(w.message) for w in caught if issubclass(w.category, DegenerateInputWarning)]
    if ids is None:
        assert said[0].startswith("image 0 (16 x 16): CC (default): ") and said[1].startswith("image 1 (16 x 16)")
    else:
        assert len(said) == 2 and all(m.startswith("x: CC (default): ") for m in said)
