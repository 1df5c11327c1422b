"""Degenerate inputs (issue 16): every registered metric of every convention on constant, black, white, tiny and
NaN-producing inputs gives either the value its reference code gives (pinned) or NaN with exactly one warning.

The cases are :func:`benchmarks.verify.octave_degenerate.build_cases` (a 48 x 48 crop of TNO pair 5 and DIDFuse's
fusion of it, constant images, 1 x 1, 2 x 2 and 7 x 7 crops). ``degenerate_reference.json`` holds, per
(convention, metric, case), the reference's value (VIFB and tang in GNU Octave 7.3, CDDFuse's Evaluator.py;
``"error ..."`` where the reference stops, ``null`` where none was run: ``default``) and ivif-bench's, from
``python -m benchmarks.verify.octave_degenerate`` (docs/conventions.md, "Degenerate inputs").
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pytest

from benchmarks.verify.octave_degenerate import build_cases
from metrics import list_conventions, list_metrics
from metrics.degenerate import DegenerateInputWarning
from metrics.engine import Notice, image_values, resolve_plan

pytestmark = pytest.mark.usefixtures("one_thread")

PINNED = json.loads((Path(__file__).with_name("degenerate_reference.json")).read_text())

#: finite values that differ from a reference that fails: documented in docs/conventions.md, "Degenerate inputs"
DOCUMENTED = {
    ("cddfuse", "SF", "tiny1"): "np.mean of no differences is NaN in the reference; 0 here, as default (no edge)",
    ("tang", "SF", "tiny1"): "SF_evaluation.m returns an empty matrix for 1 x 1; 0 here, as default",
}
#: reference values ivif-bench refuses (NaN + warning) because the image is smaller than the metric's window
REFUSED = {("cddfuse", "VIF", "tiny1"), ("cddfuse", "VIF", "tiny2"), ("cddfuse", "VIF", "tiny7"),
           ("tang", "SCD", "tiny1")}


def _rel(convention: str) -> float:
    return 2e-6 if convention == "cddfuse" else 1e-9  # CDDFuse computes in float32


@pytest.fixture(scope="module")
def computed(data_root):
    keys = [(name, convention) for convention in list_conventions() for name in list_metrics(convention)]
    plan = resolve_plan(keys)
    out = {}
    for case, images in build_cases(data_root).items():
        with warnings.catch_warnings():
            warnings.simplefilter("error", DegenerateInputWarning)  # the engine collects, never emits
            values, caught = image_values(plan, *images)
        for (name, convention), (value, _rule) in zip(keys, values):
            said = [m for c, m in caught if c is DegenerateInputWarning and m.startswith(f"{name} ({convention}): ")]
            assert all(c in (Notice, DegenerateInputWarning) for c, _ in caught)
            out[(convention, name, case)] = (value, said)
    return out


def test_every_metric_and_case_is_pinned(computed):
    assert {tuple(k.split("|")) for k in PINNED} == set(computed)


def test_degenerate_values_are_the_reference_or_nan_with_one_warning(computed):
    problems = []
    for (convention, name, case), (value, said) in computed.items():
        entry = PINNED["|".join((convention, name, case))]
        ours, reference = entry["ours"], entry["reference"]
        if ours is None or not math.isfinite(ours):  # stated NaN / inf: exactly one warning naming the metric
            if not (value != value if ours is None else value == ours) or len(said) != 1:
                problems.append((convention, name, case, value, said))
            continue
        if not math.isclose(value, ours, rel_tol=1e-12, abs_tol=1e-13) or (case == "normal" and said):
            problems.append((convention, name, case, value, ours))
        if isinstance(reference, (int, float)) and math.isfinite(reference):
            if not math.isclose(value, reference, rel_tol=_rel(convention), abs_tol=1e-13):
                problems.append((convention, name, case, value, "reference", reference))
        elif reference is not None and (convention, name, case) not in DOCUMENTED:
            problems.append((convention, name, case, value, "reference has no value", reference))
    assert not problems, problems


def test_nan_or_error_references_are_followed_or_documented(computed):
    for key, (value, said) in computed.items():
        reference = PINNED["|".join(key)]["reference"]
        if isinstance(reference, (int, float)) and math.isfinite(reference) and not math.isfinite(value):
            assert key in REFUSED and len(said) == 1, key  # the reference's number is for a too-small image


@pytest.mark.parametrize("case", ["black", "black_src", "all_black"])
def test_qcb_of_black_images_is_nan_as_vifb(computed, case):
    for convention in ("default", "vifb"):
        value, said = computed[(convention, "Qcb", case)]
        assert math.isnan(value) and len(said) == 1 and ("all-black" in said[0] or "constant" in said[0])
    assert math.isnan(PINNED[f"vifb|Qcb|{case}"]["reference"])


def test_fmi_of_tiny_images_is_refused(computed):
    for name in ("FMI_pixel", "FMI_dct", "FMI_w"):
        for case in ("tiny1", "tiny2"):
            value, said = computed[("default", name, case)]
            assert math.isnan(value) and len(said) == 1 and "window" in said[0], (name, case)
