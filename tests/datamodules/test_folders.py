"""A user's dataset folder: the layouts accepted (any case), and messages that name what was found."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from datamodules import DatasetError, FusionDataModule, load_pairs, read_pair
from datamodules.folders import find_layout, list_images

TNO = "IVIF-DIDFuse/Datasets/Test_data_TNO"
VIFB = "VIFB/input"


def _link(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.symlink_to(src)
    return dst


@pytest.mark.parametrize("ir_name, vis_name", [("IR", "VI"), ("ir", "vis"), ("Infrared", "VISIBLE"), ("ir", "vi")])
def test_sub_folder_layouts_pair_by_stem(tmp_path, data_root, ir_name, vis_name):
    for name in ("carLight", "fight"):  # VIFB's own layout and names, copied under other folder names
        _link(data_root / VIFB / "IR" / f"{name}.jpg", tmp_path / ir_name / f"{name}.jpg")
        _link(data_root / VIFB / "VI" / f"{name}.jpg", tmp_path / vis_name / f"{name}.jpg")
    pairs = load_pairs(tmp_path)
    assert [p.pair_id for p in pairs] == ["carLight", "fight"]
    assert pairs[1].ir_path.parent.name == ir_name and pairs[1].vis_path.parent.name == vis_name
    registered = load_pairs("vifb", data_root, ids="fight")[0]
    assert all(np.array_equal(a, b) for a, b in zip(read_pair(pairs[1]), read_pair(registered)))


def test_prefixed_names_in_sub_folders_and_suffixed_files_side_by_side(tmp_path, data_root):
    for k in (3, 12):
        _link(data_root / TNO / f"IR{k}.bmp", tmp_path / "a" / "ir" / f"IR{k}.bmp")
        _link(data_root / TNO / f"VIS{k}.bmp", tmp_path / "a" / "vis" / f"VIS_{k}.bmp")
        _link(data_root / TNO / f"IR{k}.bmp", tmp_path / "b" / f"scene{k}_IR.bmp")  # IFCNN's <name>_IR / <name>_Vis
        _link(data_root / TNO / f"VIS{k}.bmp", tmp_path / "b" / f"scene{k}_Vis.bmp")
    assert [p.pair_id for p in load_pairs(tmp_path / "a")] == ["3", "12"]
    assert [p.pair_id for p in load_pairs(tmp_path / "b")] == ["scene3", "scene12"]


def test_a_folder_that_does_not_fit_names_what_it_holds(tmp_path, data_root):
    _link(data_root / VIFB / "IR" / "fight.jpg", tmp_path / "only_ir" / "IR" / "fight.jpg")
    (tmp_path / "only_ir" / "notes").mkdir()
    with pytest.raises(DatasetError, match=r"only_ir: found the sub-folder IR/ but no visible sub-folder "
                                           r"\(vis/, vi/, visible/, any case\); other sub-folders: notes/"):
        load_pairs(tmp_path / "only_ir")
    _link(data_root / VIFB / "VI" / "fight.jpg", tmp_path / "two" / "VI" / "fight.jpg")
    _link(data_root / VIFB / "VI" / "fight.jpg", tmp_path / "two" / "vis" / "fight.jpg")
    _link(data_root / VIFB / "IR" / "fight.jpg", tmp_path / "two" / "ir" / "fight.jpg")
    with pytest.raises(DatasetError, match=r"more than one visible sub-folder \((VI/, vis/|vis/, VI/)\)"):
        load_pairs(tmp_path / "two")
    (tmp_path / "nested" / "set1").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"nested: not a dataset folder: found 1 sub-folder \(set1/\)"):
        load_pairs(tmp_path / "nested")
    (tmp_path / "empty_ir" / "ir").mkdir(parents=True)
    (tmp_path / "empty_ir" / "vis").mkdir()
    (tmp_path / "empty_ir" / "ir" / "readme.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"ir: no image files .* in it; found 1 other file \(readme.txt\)"):
        load_pairs(tmp_path / "empty_ir")


def test_skipped_sub_folders_and_files_are_named(tmp_path, data_root):
    for k in (1, 2):
        _link(data_root / TNO / f"IR{k}.bmp", tmp_path / "set" / "IR" / f"{k}.bmp")
        _link(data_root / TNO / f"VIS{k}.bmp", tmp_path / "set" / "VI" / f"{k}.bmp")
    _link(data_root / TNO / "IR3.bmp", tmp_path / "set" / "IR" / "extra" / "3.bmp")
    _link(data_root / TNO / "IR3.bmp", tmp_path / "set" / "fused" / "F3.bmp")
    _link(data_root / TNO / "IR3.bmp", tmp_path / "set" / "cover.bmp")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pairs = load_pairs(tmp_path / "set")
    messages = [str(w.message) for w in caught]
    assert [p.pair_id for p in pairs] == ["1", "2"]
    assert any("set: skipped 1 sub-folder beside IR/ and VI/: fused/" in m for m in messages), messages
    assert any("set: skipped 1 image file beside IR/ and VI/: cover.bmp" in m for m in messages), messages
    assert any("IR: skipped 1 sub-folder (images are read from this folder only" in m and "extra/" in m
               for m in messages), messages
    flat = tmp_path / "flat"
    for k in (4, 5):
        _link(data_root / TNO / f"IR{k}.bmp", flat / f"IR{k}.bmp")
        _link(data_root / TNO / f"VIS{k}.bmp", flat / f"VIS{k}.bmp")
    _link(data_root / TNO / "IR6.bmp", flat / "overview.bmp")
    (flat / "old").mkdir()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [p.pair_id for p in load_pairs(flat)] == ["4", "5"]
    messages = [str(w.message) for w in caught]
    assert any("flat: skipped, as neither IR nor VIS by name, 1 image file: overview.bmp" in m for m in messages)
    assert any("flat: skipped 1 sub-folder (images are read from this folder only" in m and "old/" in m
               for m in messages), messages
    with pytest.warns(UserWarning, match=r"flat: skipped 1 sub-folder .*old/"):
        list_images(flat)


def test_flat_image_folder_for_unpaired_training_still_works(tmp_path, data_root):
    for k in (1, 2):
        _link(data_root / TNO / f"VIS{k}.bmp", tmp_path / "gray" / f"photo{k}.bmp")
    dm = FusionDataModule(train_dataset=str(tmp_path / "gray"), test_datasets=(), unpaired=True, batch_size=2,
                          crop_size=64)
    dm.setup("fit")
    assert next(iter(dm.train_dataloader()))["image"].shape == (2, 1, 64, 64)
