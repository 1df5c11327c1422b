"""Downloads for real, over HTTP, from a server on 127.0.0.1 serving copies of ../shared/data files.

The server lays files out as raw.githubusercontent.com does
(``<owner>/<repo>/<commit>/<path>``); one served file is corrupted.
"""

from __future__ import annotations

import shutil

import pytest

from benchmarks.cli import main as cli
from datamodules import FusionDataModule, load_pairs
from datamodules.datasets import SOURCES
from datamodules.download import DownloadError, download, manifest_files, verify

UPSTREAM = "IVIF-DIDFuse"
FLIR = "Datasets/Test_data_FLIR"


@pytest.fixture()
def server(tmp_path, data_root, file_server):
    """A raw-file server with FLIR pairs 1-3 and 2 of TNO; VIS3.jpg is served corrupted. Yields (base_url, served dir)."""
    source = SOURCES[UPSTREAM]
    served = tmp_path / "served"
    base = served / source.repository / source.commit
    for k in (1, 2, 3):
        for kind in ("IR", "VIS"):
            target = base / FLIR / f"{kind}{k}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(data_root / UPSTREAM / FLIR / f"{kind}{k}.jpg", target)
    corrupted = base / FLIR / "VIS3.jpg"
    data = bytearray(corrupted.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte altered: same size, different sha256
    corrupted.write_bytes(bytes(data))
    yield file_server(served), base


def test_download_verifies_every_file_and_refuses_a_corrupted_one(server, tmp_path, data_root, file_server):
    url, served = server
    root = tmp_path / "root"
    with pytest.raises(DownloadError, match=r"1 file\(s\) failed: .*Test_data_FLIR/VIS3.jpg: downloaded from .*sha256 does not match"):
        download(["flir"], root, ids="1-3", base_url=url)
    folder = root / UPSTREAM / FLIR
    assert sorted(p.name for p in folder.iterdir()) == ["IR1.jpg", "IR2.jpg", "IR3.jpg", "VIS1.jpg", "VIS2.jpg"]
    assert not (folder / "VIS3.jpg").exists()  # nothing at the final path, no temporary left over
    status = verify(root, ["flir"], ids="1-3")[0]
    assert (status.pairs_ok, status.pairs_expected) == (2, 3) and status.missing == [folder / "VIS3.jpg"]
    assert [p.pair_id for p in load_pairs("flir", root, ids="1-2")] == ["1", "2"]

    # the upstream file is fixed: only the missing file is fetched again
    shutil.copyfile(data_root / UPSTREAM / FLIR / "VIS3.jpg", served / FLIR / "VIS3.jpg")
    file_server.requested.clear()
    written = download(["flir"], root, ids="1-3", base_url=url)
    assert written == [folder / "VIS3.jpg"] and len(file_server.requested) == 1
    assert verify(root, ["flir"], ids="1-3")[0].ok

    # a damaged local file is detected and replaced
    (folder / "IR2.jpg").write_bytes(b"damaged")
    assert "IR2.jpg: size 7 bytes" in verify(root, ["flir"], ids="1-3")[0].summary()
    assert download(["flir"], root, ids="2", base_url=url) == [folder / "IR2.jpg"]
    assert verify(root, ["flir"], ids="1-3")[0].ok


def test_unreachable_file_is_named_and_datamodule_downloads_its_selection(server, tmp_path, monkeypatch):
    url, _ = server
    root = tmp_path / "root"
    with pytest.raises(DownloadError, match=r"Test_data_TNO/IR1.bmp: could not fetch .*404"):
        download(["tno"], root, ids="1", base_url=url)
    assert not (root / UPSTREAM / "Datasets/Test_data_TNO/IR1.bmp").exists()
    monkeypatch.setenv("IVIF_BENCH_DATA_URL", url)
    dm = FusionDataModule(train_dataset="flir", train_ids="1-2", test_datasets=["sample_nir"], data_root=str(root),
                          download=True, batch_size=2)
    dm.prepare_data()  # fetches flir pairs 1-2 only; the embedded sample needs nothing
    dm.setup("fit")
    assert next(iter(dm.train_dataloader()))["pair_id"] == ["1", "2"]


def test_cli_download_and_manifest_selection(server, tmp_path, capsys):
    url, _ = server
    root = tmp_path / "root"
    assert cli(["data", "download", "flir", "--ids", "1-2", "--data-root", str(root), "--base-url", url]) == 0
    out = capsys.readouterr().out
    assert "4 file(s) fetched" in out and "flir: complete, 2/2 pairs (4 files)" in out
    assert cli(["data", "download", "flir", "--ids", "3", "--data-root", str(root), "--base-url", url]) == 2
    assert "VIS3.jpg" in capsys.readouterr().err
    files = manifest_files("tno_gan_test")
    assert len(files) == 20 and {f.pair_id for f in files} == {str(k) for k in range(31, 41)}
    assert files[0].url("https://raw.githubusercontent.com") == (
        "https://raw.githubusercontent.com/Zhaozixiang1228/IVIF-DIDFuse/"
        "5f287300dce7cbc90b9e08e6872455af6baa279f/Datasets/Test_data_TNO/IR31.bmp")
