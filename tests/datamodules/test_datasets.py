"""The dataset registry and every bad-input case, on the real files of ../shared/data."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datamodules import DatasetError, get_dataset, list_datasets, load_pairs, read_pair, read_pair_color, resolve_data_root
from datamodules.datasets import dataset_ids, dataset_label, load_manifest, natural_key, parse_ids
from datamodules.io import ImageReadError

COUNTS = {"tno": 40, "flir": 40, "nir": 52, "flir_train": 180, "roadscene": 221, "roadscene_test": 41,
          "vifb": 21, "tang_tno": 42, "tno_gan_train": 30, "tno_gan_test": 10, "sample_tno": 3, "sample_flir": 3, "sample_nir": 2,
          "sample_flir_train": 8}
TNO = "IVIF-DIDFuse/Datasets/Test_data_TNO"
FLIR = "IVIF-DIDFuse/Datasets/Test_data_FLIR"


def _link(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.symlink_to(src)
    return dst


def test_every_dataset_has_its_pair_count_and_ids(data_root):
    assert list_datasets() == list(COUNTS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # RoadScene's Thumbs.db, tested below
        for name, count in COUNTS.items():
            pairs = load_pairs(name, data_root)
            assert len(pairs) == count == get_dataset(name).pair_count == len(dataset_ids(name)), name
            assert [p.pair_id for p in pairs] == sorted((p.pair_id for p in pairs), key=natural_key)
            assert all(p.dataset == name and p.ir_path.is_file() and p.vis_path.is_file() for p in pairs)
    tno = load_pairs("tno", data_root)
    assert [p.pair_id for p in tno] == [str(k) for k in range(1, 41)]  # as written, natural order
    assert (tno[9].ir_path.name, tno[9].vis_path.name) == ("IR10.bmp", "VIS10.bmp")
    assert [p.pair_id for p in load_pairs("tno_gan_train", data_root)] == [str(k) for k in range(1, 31)]
    assert [p.pair_id for p in load_pairs("tno_gan_test", data_root)] == [str(k) for k in range(31, 41)]
    assert [p.pair_id for p in load_pairs("sample_tno")] == ["5", "8", "10"]  # no data root needed


def test_roadscene_ids_and_test_split(data_root):
    with pytest.warns(UserWarning, match="Thumbs.db") as record:
        pairs = load_pairs("roadscene", data_root)
    assert len([w for w in record if "Thumbs.db" in str(w.message)]) == 1  # one warning per folder
    assert pairs[0].pair_id == "FLIR_00006" and pairs[0].ir_path.name == "FLIR_00006.jpg"
    manifest = load_manifest("roadscene")
    train_matches = manifest["flir_train_ids"]
    assert len(train_matches) == 180 and len(set(train_matches.values())) == 180
    with pytest.warns(UserWarning, match="Thumbs.db"):
        test_ids = [p.pair_id for p in load_pairs("roadscene_test", data_root)]
    assert len(test_ids) == 41 and not set(test_ids) & set(train_matches)
    # a recorded match really is the same infrared image, decoded
    rid, fid = next(iter(train_matches.items()))
    flir_train = load_pairs("flir_train", data_root, ids=[fid])[0]
    road = {p.pair_id: p for p in pairs}[rid]
    assert np.array_equal(np.asarray(Image.open(road.ir_path)), np.asarray(Image.open(flir_train.ir_path)))


def test_roadscene_visible_is_the_low_resolution_crop_of_the_infrared_size(data_root):
    with pytest.warns(UserWarning, match="Thumbs.db"):
        pair = load_pairs("roadscene", data_root, ids="FLIR_00006")[0]
    assert pair.vis_path.parent.name == "crop_LR_visible" and not pair.resize_vis
    with Image.open(pair.vis_path) as vis, Image.open(pair.ir_path) as ir:
        assert vis.size == ir.size and vis.mode == "RGB"  # no resize: the files are registered at the IR size
        ir_size = ir.size
    ir, vis = read_pair(pair)
    assert ir.dtype == vis.dtype == np.uint8 and ir.shape == vis.shape == (ir_size[1], ir_size[0])
    # flir_train is RoadScene's cropinfrared + crop_LR_visible, byte for byte
    manifest, train = load_manifest("roadscene"), load_manifest("flir_train")
    assert manifest["vis_mean_abs_diff"] == 0.0
    for rid, fid in manifest["flir_train_ids"].items():
        assert manifest["files"][f"crop_LR_visible/{rid}.jpg"] == train["files"][f"Datasets/Train_data_FLIR/VIS/VIS/VIS{fid}.jpg"]


def test_vifb_and_tang_tno(data_root):
    vifb = load_pairs("vifb", data_root)
    assert [p.pair_id for p in vifb][:3] == ["carLight", "carShadow", "carWhite"]
    assert all(p.ir_path.name == p.vis_path.name == f"{p.pair_id}.jpg" for p in vifb)
    assert (vifb[0].ir_path.parent.name, vifb[0].vis_path.parent.name) == ("IR", "VI")
    manifest = load_manifest("vifb")
    assert manifest["commit"] == "22b2ea9d91499cc5962d9bdcae9c290270f0fade" and len(manifest["files"]) == 42
    tang = load_pairs("tang_tno", data_root)
    assert [p.pair_id for p in tang] == [f"{k:02d}" for k in range(1, 43)]
    assert (tang[0].ir_path.name, tang[0].vis_path.parent.name) == ("01.png", "vi")
    assert load_manifest("tang_tno")["commit"].startswith("5d6c43a")
    assert [p.pair_id for p in load_pairs("tang_tno", data_root, ids="01-03,40")] == ["01", "02", "03", "40"]
    ir, vis = read_pair(tang[4])  # RGB files with equal channels: read as the gray they are
    assert ir.ndim == vis.ndim == 2 and np.array_equal(vis, np.asarray(Image.open(tang[4].vis_path))[..., 0])


@pytest.mark.parametrize("name", ["tno", "flir", "nir", "flir_train", "roadscene", "vifb", "tang_tno"])
def test_vis_color_flag_matches_the_files(name, data_root):
    """``vis_color`` says whether the visible files are colour (channels that differ), checked on 3 pairs each."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pairs = load_pairs(name, data_root)
    for pair in pairs[:: max(1, len(pairs) // 3)][:3]:
        with Image.open(pair.vis_path) as image:
            pixels = np.asarray(image.convert("RGB")).astype(int)
        colour = image.mode == "RGB" and bool(np.ptp(pixels, axis=2).any())
        assert colour == get_dataset(name).vis_color, (name, pair.pair_id)


def test_read_pair_takes_the_pil_l_luma_of_colour_and_gray_files_as_they_are(data_root):
    pair = load_pairs("flir_train", data_root, ids="1")[0]
    ir, vis = read_pair(pair)
    with Image.open(pair.vis_path) as image, Image.open(pair.ir_path) as ir_image:
        assert image.mode == "RGB" and ir_image.mode == "L"
        assert np.array_equal(vis, np.asarray(image.convert("L")))  # the gray conversion of every round
        assert np.array_equal(ir, np.asarray(ir_image))
        assert np.array_equal(read_pair_color(pair)[2], np.asarray(image))
    for name, ids in (("tno", "1,40"), ("flir", "1"), ("nir", "52"), ("tang_tno", "07")):  # gray sets: the file's values
        pair = load_pairs(name, data_root, ids=ids)[0]
        ir, vis, vis_rgb = read_pair_color(pair)
        assert vis_rgb is None
        assert np.array_equal(vis, np.asarray(Image.open(pair.vis_path).convert("L")))
        assert np.array_equal(ir, np.asarray(Image.open(pair.ir_path).convert("L")))


def test_ids_selection(data_root):
    assert parse_ids("1-3,7") == ["1", "2", "3", "7"]
    assert parse_ids(["FLIR_00006", 5]) == ["FLIR_00006", "5"]
    assert parse_ids(4) == ["4"] and parse_ids(None) is None
    with pytest.raises(DatasetError, match="empty"):
        parse_ids("5-2")
    assert [p.pair_id for p in load_pairs("flir", data_root, ids="12,2-3")] == ["2", "3", "12"]
    with pytest.raises(DatasetError, match="no pair with id '41'"):
        load_pairs("tno", data_root, ids="40-41")
    with pytest.raises(DatasetError, match="no pair with id '5'"):
        load_pairs("tno_gan_test", data_root, ids="5")


def test_data_root_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("IVIF_BENCH_DATA", str(tmp_path / "env"))
    assert resolve_data_root(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_root() == tmp_path / "env"
    monkeypatch.delenv("IVIF_BENCH_DATA")
    assert resolve_data_root().parts[-2:] == ("ivif-bench", "data")


def test_missing_data_root_names_the_fix(tmp_path):
    root = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=f"data root {root} does not exist.*ivif-bench data download tno --data-root {root}"):
        load_pairs("tno", root)
    root.mkdir()
    with pytest.raises(FileNotFoundError, match="Train_data_FLIR/IR/IR does not exist.*ivif-bench data download flir_train"):
        load_pairs("flir_train", root)


def test_partial_root_serves_its_selection_only(tmp_path, data_root):
    for k in (1, 2, 3):
        for kind in ("IR", "VIS"):
            _link(data_root / FLIR / f"{kind}{k}.jpg", tmp_path / FLIR / f"{kind}{k}.jpg")
    assert [p.pair_id for p in load_pairs("flir", tmp_path, ids="1-3")] == ["1", "2", "3"]
    with pytest.raises(FileNotFoundError, match=r"37 of its 40 pairs are missing.*ivif-bench data download flir --data-root"):
        load_pairs("flir", tmp_path)
    (tmp_path / FLIR / "VIS3.jpg").unlink()
    with pytest.raises(DatasetError, match=r"IR3.jpg: missing partner, no VIS image with pair id '3'.*data download flir"):
        load_pairs("flir", tmp_path, ids="1-3")
    assert [p.pair_id for p in load_pairs("flir", tmp_path, ids="1-2")] == ["1", "2"]  # pair 3 not asked for
    with pytest.raises(FileNotFoundError, match=r"1 of its 1 pairs are missing"):
        load_pairs("flir", tmp_path, ids="7")


def test_user_folders_ir_vis_subfolders_and_prefixed_files(tmp_path, data_root):
    sub = tmp_path / "mine"
    for k in (2, 10):
        _link(data_root / TNO / f"IR{k}.bmp", sub / "ir" / f"{k}.bmp")
        _link(data_root / TNO / f"VIS{k}.bmp", sub / "vis" / f"{k}.bmp")
    pairs = load_pairs(sub)
    assert [(p.pair_id, p.dataset) for p in pairs] == [("2", "mine"), ("10", "mine")]
    assert dataset_label(sub) == "mine" and dataset_label("tno") == "tno"
    flat = tmp_path / "flat"
    for k in (3, 4):
        _link(data_root / FLIR / f"IR{k}.jpg", flat / f"IR_{k}.jpg")
        _link(data_root / FLIR / f"VIS{k}.jpg", flat / f"VIS_{k}.jpg")
    (flat / "notes.txt").write_text("not an image")
    with pytest.warns(UserWarning, match="skipped 1 non-image file.*notes.txt"):
        pairs = load_pairs(flat)
    assert [p.pair_id for p in pairs] == ["3", "4"]
    ir, vis = read_pair(pairs[0])
    assert ir.shape == vis.shape


def test_missing_partner_in_user_folder(tmp_path, data_root):
    _link(data_root / TNO / "IR1.bmp", tmp_path / "IR1.bmp")
    _link(data_root / TNO / "VIS1.bmp", tmp_path / "VIS1.bmp")
    _link(data_root / TNO / "IR2.bmp", tmp_path / "IR2.bmp")
    with pytest.raises(DatasetError, match=r"IR2.bmp: missing partner, no VIS image with pair id '2'"):
        load_pairs(tmp_path)


def test_pair_of_different_sizes_names_both_files(tmp_path, data_root):
    ir = _link(data_root / TNO / "IR8.bmp", tmp_path / "ir" / "a.bmp")  # 256 x 256
    vis = _link(data_root / TNO / "VIS5.bmp", tmp_path / "vis" / "a.bmp")  # 280 x 280
    pair = load_pairs(tmp_path)[0]
    with pytest.raises(DatasetError, match=rf"IR and VIS differ in size: {ir} is 256x256.*{vis} is 280x280"):
        read_pair(pair)


def test_corrupt_and_truncated_images_name_the_file(tmp_path, data_root):
    data = (data_root / FLIR / "VIS1.jpg").read_bytes()
    _link(data_root / FLIR / "IR1.jpg", tmp_path / "IR1.jpg")
    (tmp_path / "VIS1.jpg").write_bytes(data[: len(data) // 2])  # truncated JPEG
    _link(data_root / FLIR / "IR2.jpg", tmp_path / "IR2.jpg")
    (tmp_path / "VIS2.jpg").write_bytes(b"\x00garbage, not a JPEG" * 10)
    first, second = load_pairs(tmp_path)
    with pytest.raises(ImageReadError, match="VIS1.jpg: corrupt or truncated"):
        read_pair(first)
    with pytest.raises(ImageReadError, match="VIS2.jpg: not an image"):
        read_pair(second)


def test_empty_and_unknown(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"empty: not a dataset folder: found nothing \(an empty folder\)"):
        load_pairs(tmp_path / "empty")
    (tmp_path / "stray").mkdir()
    (tmp_path / "stray" / "photo.png").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"stray: not a dataset folder: found 1 image file \(photo.png\); "
                                           r"a dataset folder holds an infrared and a visible sub-folder \(ir/ \+ vis/"):
        load_pairs(tmp_path / "stray")
    with pytest.raises(KeyError, match="unknown dataset 'tnoo'.*tno"):
        load_pairs("tnoo")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        load_pairs(tmp_path / "absent" / "folder")
