"""``ivif-bench data list / verify`` on the real data root and on a root with one altered file."""

from __future__ import annotations

import pytest

from benchmarks.cli import main as cli
from datamodules.download import manifest_files


def test_verify_reports_the_seven_real_datasets_complete(data_root, capsys):
    assert cli(["data", "verify", "--data-root", str(data_root)]) == 0
    out = capsys.readouterr().out
    for line in ("tno: complete, 40/40 pairs (80 files)", "flir: complete, 40/40 pairs (80 files)",
                 "nir: complete, 52/52 pairs (104 files)", "flir_train: complete, 180/180 pairs (360 files)",
                 "roadscene: complete, 221/221 pairs (442 files)", "vifb: complete, 21/21 pairs (42 files)",
                 "tang_tno: complete, 42/42 pairs (84 files)"):
        assert line in out


def test_verify_fails_naming_an_altered_file(data_root, tmp_path, capsys):
    # a root of links to the real FLIR test files, with one file replaced by an altered copy
    for entry in manifest_files("flir"):
        target = entry.target(tmp_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(entry.target(data_root))
    altered = tmp_path / "IVIF-DIDFuse/Datasets/Test_data_FLIR/VIS17.jpg"
    data = bytearray(altered.read_bytes())
    altered.unlink()
    data[100] ^= 0x01
    altered.write_bytes(bytes(data))
    assert cli(["data", "verify", "flir", "--data-root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"flir: CORRUPT, 39/40 pairs (80 files); {altered}: sha256 differs" in out
    assert f"ivif-bench data download flir --data-root {tmp_path}" in out
    (tmp_path / "IVIF-DIDFuse/Datasets/Test_data_FLIR/IR3.jpg").unlink()
    assert cli(["data", "verify", "flir", "--data-root", str(tmp_path)]) == 1
    assert "Test_data_FLIR/IR3.jpg: missing" in capsys.readouterr().out


def test_bad_arguments_are_one_line_errors(tmp_path, capsys):
    assert cli(["data", "verify", "tno", "--data-root", str(tmp_path / "void")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"ivif-bench data download tno --data-root {tmp_path / 'void'}" in err
    assert cli(["data", "verify", "tnoo", "--data-root", str(tmp_path)]) == 2
    assert "unknown dataset tnoo" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(["data", "frobnicate"])


def test_list_names_every_dataset(capsys):
    assert cli(["data", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    datasets, artifacts = lines[:14], lines[14:]
    assert [line.split()[0] for line in datasets] == ["tno", "flir", "nir", "flir_train", "roadscene", "roadscene_test",
                                                        "vifb", "tang_tno", "tno_gan_train", "tno_gan_test", "sample_tno", "sample_flir",
                                                        "sample_nir", "sample_flir_train"]
    assert "jiayi-ma/RoadScene@3ef68c6" in datasets[4] and "embedded" in datasets[-1]
    # then the released weights and fused images (datamodules.weights)
    assert [line.split()[:3] for line in artifacts] == [
        ["didfuse_weights", "2", "files"], ["densefuse_weights", "2", "files"], ["ifcnn_weights", "3", "files"],
        ["didfuse_released", "132", "files"], ["ifcnn_released", "70", "files"], ["tang_tno_ifcnn", "42", "files"]]
    assert "uzeful/IFCNN@8fe59c2" in artifacts[2] and "weights, 1.0 MB" in artifacts[2]
