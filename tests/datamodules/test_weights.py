"""Released weights and fused images: manifest, lookup, verification, and downloads over real HTTP.

The server (127.0.0.1) lays out copies of ../shared/data files as raw.githubusercontent.com
does (``<owner>/<repo>/<commit>/<path>``); one served weights file is corrupted.
"""

from __future__ import annotations

import shutil

import pytest

from datamodules.download import DownloadError
from datamodules.weights import (
    WeightsError,
    WeightsNotFoundError,
    artifact_files,
    fetch_command,
    get_artifact,
    list_artifacts,
    official_artifact,
    verify_weights,
    weights_path,
)
from lightning_modules.didfuse import DIDFuse
from lightning_modules.ifcnn import IFCNN

SNAPSHOTS = "IFCNN/Code/snapshots"


def _flip_one_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different sha256
    path.write_bytes(bytes(data))


@pytest.fixture()
def server(tmp_path, data_root, monkeypatch, file_server):
    """A raw-file server with the IFCNN and DIDFuse weights; IFCNN-SUM.pth is served corrupted.

    Yields (base_url, {artifact file path: served path}).
    """
    served = tmp_path / "served"
    where = {}
    for name in ("ifcnn_weights", "didfuse_weights"):
        for entry in artifact_files(name):
            target = served / entry.repository / entry.commit / entry.path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(entry.target(data_root), target)
            where[entry.path] = target
    _flip_one_byte(where["Code/snapshots/IFCNN-SUM.pth"])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the user cache dir, empty
    monkeypatch.delenv("IVIF_BENCH_DATA", raising=False)
    yield file_server(served), where


def test_manifest_lists_every_artifact_with_its_pinned_source():
    assert list_artifacts("weights") == ["didfuse_weights", "densefuse_weights", "ifcnn_weights"]
    assert list_artifacts("released") == ["didfuse_released", "ifcnn_released", "tang_tno_ifcnn"]
    counts = {name: len(artifact_files(name)) for name in list_artifacts()}
    assert counts == {"didfuse_weights": 2, "densefuse_weights": 2, "ifcnn_weights": 3, "didfuse_released": 132,
                      "ifcnn_released": 70, "tang_tno_ifcnn": 42}
    first = artifact_files("ifcnn_weights")[0]
    assert first.url("https://raw.githubusercontent.com") == (
        "https://raw.githubusercontent.com/uzeful/IFCNN/8fe59c2b1553e52acc793986208ca479d134a8da/"
        "Code/snapshots/IFCNN-MAX.pth")
    released = [f.path for f in artifact_files("didfuse_released")]
    assert released[:2] == ["Test_result/FLIR_IJCAI/F1.png", "Test_result/FLIR_IJCAI/F2.png"]
    assert {official_artifact(m) for m in ("didfuse", "densefuse", "ifcnn")} == set(list_artifacts("weights"))
    assert get_artifact("densefuse_weights").keys == {"gray": "models/densefuse_gray.model",
                                                      "rgb": "models/densefuse_rgb.model"}
    with pytest.raises(KeyError, match="no released weights"):
        official_artifact("fusiongan")
    with pytest.raises(KeyError, match="choose one of max, mean, sum"):
        weights_path("ifcnn", "median")


def test_the_shared_data_root_verifies_and_an_altered_file_is_named(data_root, tmp_path):
    assert [s.summary() for s in verify_weights(data_root=data_root)] == [
        "didfuse_weights: complete, 2/2 files", "densefuse_weights: complete, 2/2 files",
        "ifcnn_weights: complete, 3/3 files", "didfuse_released: complete, 132/132 files",
        "ifcnn_released: complete, 70/70 files", "tang_tno_ifcnn: complete, 42/42 files"]
    # an altered weights file and an altered released image are refused by name
    root = tmp_path / "root"
    for relative in ("IVIF-DIDFuse/Models/Encoder_weight_IJCAI.pkl", "IVIF-DIDFuse/Models/Decoder_weight_IJCAI.pkl",
                     "IVIF-DIDFuse/Test_result/TNO_IJCAI/F1.png"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data_root / relative, root / relative)
    encoder = root / "IVIF-DIDFuse/Models/Encoder_weight_IJCAI.pkl"
    _flip_one_byte(encoder)
    _flip_one_byte(root / "IVIF-DIDFuse/Test_result/TNO_IJCAI/F1.png")
    weights, released = verify_weights(["didfuse_weights", "didfuse_released"], root)
    assert not weights.ok and weights.corrupt == [(encoder, weights.corrupt[0][1])]
    assert "sha256 differs" in weights.summary() and "1/2 files" in weights.summary()
    assert [p.name for p, _ in released.corrupt] == ["F1.png"] and len(released.missing) == 131
    with pytest.raises(WeightsError, match=r"Encoder_weight_IJCAI.pkl: sha256 differs.*"
                                           r"ivif-bench data download didfuse_weights --data-root"):
        DIDFuse.from_data_root(root)


def test_download_checks_every_file_and_refuses_a_corrupted_one(server, tmp_path, data_root, file_server):
    from datamodules.weights import download_weights

    url, served = server
    root = tmp_path / "root"
    with pytest.raises(DownloadError, match=r"1 file\(s\) failed: .*IFCNN-SUM.pth: downloaded from .*"
                                            r"sha256 does not match"):
        download_weights(["ifcnn_weights"], root, base_url=url)
    folder = root / SNAPSHOTS
    assert sorted(p.name for p in folder.iterdir()) == ["IFCNN-MAX.pth", "IFCNN-MEAN.pth"]  # nothing partial left
    status = verify_weights(["ifcnn_weights"], root)[0]
    assert status.missing == [folder / "IFCNN-SUM.pth"] and "2/3 files" in status.summary()
    assert weights_path("ifcnn", "max", root) == folder / "IFCNN-MAX.pth"
    with pytest.raises(WeightsNotFoundError, match=r"IFCNN-SUM.pth or .*cache.*IFCNN-SUM.pth: missing.*"
                                                   r"fetch it with: ivif-bench data download ifcnn_weights"):
        IFCNN.from_official("sum", data_root=root)

    # the upstream file is fixed: only the missing file is fetched again
    entry = {f.path: f for f in artifact_files("ifcnn_weights")}["Code/snapshots/IFCNN-SUM.pth"]
    shutil.copyfile(entry.target(data_root), served[entry.path])
    file_server.requested.clear()
    assert download_weights(["ifcnn_weights"], root, base_url=url) == [folder / "IFCNN-SUM.pth"]
    assert len(file_server.requested) == 1 and verify_weights(["ifcnn_weights"], root)[0].ok
    assert IFCNN.from_official("sum", data_root=root).hparams.scheme == "sum"

    # a damaged local copy is refused by name, then replaced
    (folder / "IFCNN-MEAN.pth").write_bytes(b"damaged")
    with pytest.raises(WeightsError, match=r"IFCNN-MEAN.pth: size 7 bytes, expected 337079"):
        weights_path("ifcnn", "mean", root)
    assert download_weights(["ifcnn_weights"], root, base_url=url) == [folder / "IFCNN-MEAN.pth"]
    assert weights_path("ifcnn", "mean", root) == folder / "IFCNN-MEAN.pth"


def test_default_download_lands_in_the_user_cache_which_serves_any_data_root(server, tmp_path):
    from datamodules.weights import cache_root, download_weights

    url, _ = server
    written = download_weights(["didfuse_weights"], base_url=url)  # no data root, no $IVIF_BENCH_DATA
    assert len(written) == 2 and all(p.is_relative_to(tmp_path / "cache") for p in written)
    assert cache_root() == tmp_path / "cache" / "ivif-bench" / "data"
    empty = tmp_path / "empty-root"
    assert weights_path("didfuse", "decoder", empty) == cache_root() / "IVIF-DIDFuse/Models/Decoder_weight_IJCAI.pkl"
    assert not DIDFuse.from_data_root(empty).training  # read from the cache, verified


def test_fetch_command_names_the_artifact_and_root():
    assert fetch_command("ifcnn_weights") == "ivif-bench data download ifcnn_weights"
    assert fetch_command("tang_tno_ifcnn", "/data") == "ivif-bench data download tang_tno_ifcnn --data-root /data"
    with pytest.raises(KeyError, match="known artifacts"):
        fetch_command("ifcnn")

