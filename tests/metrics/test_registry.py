"""The metric registry: what each metric declares, collections, and bad input for every metric."""

from __future__ import annotations

import re

import pytest
import torch
from torchmetrics import MetricCollection

from metrics import FusionMetric, create_collection, get_metric, get_metric_info, list_metrics

# name -> (higher is better, differentiable, a word the unit must contain)
OURS = {
    "EN": (True, False, "bits"), "MI": (True, False, "bits"), "SD": (True, False, "gray levels"),
    "SF": (True, False, "gray levels"), "AG": (True, False, "gray levels"), "Qabf": (True, False, "[0, 1]"),
    "SCD": (True, False, "[-2, 2]"), "SSIM": (True, True, "[-1, 1]"), "MS_SSIM": (True, True, "[0, 1]"),
    "CC": (True, False, "[-1, 1]"), "MSE": (False, False, "gray levels"), "PSNR": (True, False, "dB"),
}


@pytest.mark.parametrize("name", list(OURS))
def test_registry_entry(name):
    higher, differentiable, unit = OURS[name]
    info = get_metric_info(name)
    assert info.name == name and info.convention == "default"
    assert issubclass(info.metric_class, FusionMetric)
    assert info.metric_class.functional is info.functional
    assert info.higher_is_better is higher and info.metric_class.higher_is_better is higher
    assert info.metric_class.is_differentiable is differentiable
    assert unit in info.unit and info.definition and info.reference
    assert info.metric_class.__doc__ and "Example" in info.metric_class.__doc__
    assert isinstance(get_metric(name), info.metric_class)


def test_default_convention_lists_the_core_suite_in_order():
    names = list_metrics()
    assert set(OURS) <= set(names)
    assert names.index("EN") < names.index("MI") < names.index("SD") < names.index("SF") < names.index("AG")


def test_collection_of_a_subset_and_of_all():
    g = torch.Generator().manual_seed(0)
    fused, ir, vis = (torch.rand(2, 1, 24, 24, dtype=torch.float64, generator=g) for _ in range(3))
    subset = create_collection("EN, MI,SSIM")
    assert isinstance(subset, MetricCollection) and list(subset.keys()) == ["EN", "MI", "SSIM"]
    subset.update(fused, ir, vis)
    values = subset.compute()
    assert values["EN"].item() == pytest.approx(get_metric_info("EN").functional(fused).mean().item(), rel=1e-12)
    assert set(create_collection("all").keys()) == set(list_metrics())
    assert set(create_collection(None).keys()) == set(list_metrics())


def test_unknown_metric_is_a_clear_key_error():
    with pytest.raises(KeyError, match="NOPE"):
        get_metric("NOPE")
    with pytest.raises(KeyError, match="convention"):
        create_collection(["EN"], convention="no-such-convention")


GOOD = torch.rand(1, 1, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 0.9 + 0.05
NAN = GOOD.clone()
NAN[0, 0, 3, 4] = float("nan")
BAD = {
    "NaN": (NAN, "NaN"),
    "above 1": (GOOD + 1.5, re.escape("outside [0, 1]")),
    "below 0": (GOOD - 2, re.escape("outside [0, 1]")),
    "3-D": (GOOD[0], "4-D"),
    "RGB": (GOOD.expand(1, 3, 12, 12), "channels"),
    "integer": ((GOOD * 255).to(torch.uint8), "float"),
    "shape": (GOOD[..., :10], "shape"),
    "numpy": (GOOD.numpy(), "torch.Tensor"),
}


@pytest.mark.parametrize("name", list_metrics())
@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_a_value_error_naming_the_argument(name, case):
    bad, words = BAD[case]
    functional = get_metric_info(name).functional
    for argument in ("fused", "ir", "vis"):
        args = {"fused": GOOD, "ir": GOOD, "vis": GOOD, argument: bad}
        with pytest.raises(ValueError, match=words) as info:
            functional(args["fused"], args["ir"], args["vis"])
        # a shape mismatch of fused is reported against the first source it is compared with
        assert (argument if not (case == "shape" and argument == "fused") else "fused") in str(info.value)
