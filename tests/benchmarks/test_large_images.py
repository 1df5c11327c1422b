"""benchmarks/speed/large_images.py --tiny: tiled fusion equals untiled fusion, and the evaluate step runs."""

from __future__ import annotations

import json

import pytest

from benchmarks.speed import large_images


@pytest.mark.timeout(300)
def test_tiny_mode_measures_every_step(tmp_path, data_root, capsys):
    out = tmp_path / "large.json"
    assert large_images.main(["--data-root", str(data_root), "--tiny", "--json", str(out)]) == 0
    rows = {r["step"]: r for r in json.loads(out.read_text())}
    assert set(rows) == {"equal", "fuse", "evaluate"}
    assert rows["equal"]["eight_bit_equal"] and rows["equal"]["max_abs_diff"] < 1e-5
    assert rows["evaluate"]["size"] == "96 x 64" and rows["evaluate"]["metrics"] >= 20
    assert all(r["peak_rss_gb"] > 0 for r in rows.values() if r["step"] != "equal")
    assert "| evaluate | 96 x 64 |" in capsys.readouterr().out
