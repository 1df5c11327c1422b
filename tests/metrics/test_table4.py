"""The DIDFuse paper's Table 4, DIDFuse row, from the authors' released fused TNO images.

EN, MI and AG (cheap) are checked on the full TNO set, whose means the paper reports;
a subset mean would not equal the table. VIF is Han's VIFF (Metrics B): checked on the
full set when registered.
"""

from __future__ import annotations

import pytest

from metrics import list_metrics
from metrics.evaluate import evaluate_folder, mean_table

# Table 4 of Zhao et al., IJCAI 2020, DIDFuse row, TNO column.
TABLE4_TNO = {"EN": 7.006, "MI": 2.347, "VIF": 0.623, "AG": 4.294}


def test_didfuse_table4_tno_row(data_root):
    names = ["EN", "MI", "AG"] + (["VIF"] if "VIF" in list_metrics() else [])
    results = evaluate_folder(data_root / "IVIF-DIDFuse" / "Test_result" / "TNO_IJCAI", "tno", data_root=data_root,
                              pattern="F{id}", metrics=names, progress=False)
    assert results["image"].nunique() == 40
    means = mean_table(results).loc["tno"]
    for name in names:
        assert round(means[name], 3) == pytest.approx(TABLE4_TNO[name], abs=1e-9), (name, means[name])
