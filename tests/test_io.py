"""The shared image I/O helpers on real files."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from datamodules.io import ImageReadError, atomic_write, gray_from_rgb, read_image, save_png, to_uint8


def test_gray_matches_pil_luma(data_root):
    path = data_root / "IVIF-DIDFuse/Datasets/Train_data_FLIR/VIS/VIS/VIS1.jpg"
    with Image.open(path) as img:
        assert img.mode == "RGB"
        expected = np.asarray(img.convert("L"))
    assert np.array_equal(read_image(path), expected)
    assert np.array_equal(gray_from_rgb(read_image(path, mode="rgb")), expected)


def test_rgb_where_gray_expected_is_refused(data_root):
    path = data_root / "IVIF-DIDFuse/Datasets/Train_data_FLIR/VIS/VIS/VIS1.jpg"
    with pytest.raises(ImageReadError, match="VIS1.jpg.*RGB image where a gray image was expected"):
        read_image(path, mode="gray_strict")


def test_native_keeps_the_files_channels(data_root):
    """``native`` reads like MATLAB's imread: gray files H x W, colour files H x W x 3 (equal channels kept)."""
    gray = data_root / "IVIF-DIDFuse/Datasets/Test_data_TNO/IR1.bmp"
    colour = data_root / "IVIF-DIDFuse/Datasets/Train_data_FLIR/VIS/VIS/VIS1.jpg"
    equal_channels = data_root / "VIFB/input/IR/carLight.jpg"
    assert read_image(gray, mode="native").shape == read_image(gray).shape
    assert np.array_equal(read_image(colour, mode="native"), read_image(colour, mode="rgb"))
    with Image.open(equal_channels) as img:
        assert img.mode == "RGB"
    native = read_image(equal_channels, mode="native")
    assert native.ndim == 3 and native.shape[2] == 3


def test_corrupt_truncated_and_non_image(tmp_path, data_root):
    source = (data_root / "IVIF-DIDFuse/Datasets/Test_data_TNO/IR1.bmp").read_bytes()
    truncated = tmp_path / "IR1.bmp"
    truncated.write_bytes(source[: len(source) // 3])
    with pytest.raises(ImageReadError, match="IR1.bmp"):
        read_image(truncated)
    thumbs = data_root / "RoadScene/crop_HR_visible/Thumbs.db"
    with pytest.raises(ImageReadError, match="Thumbs.db: not an image"):
        read_image(thumbs)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty"):
        read_image(empty)


def test_save_png_rounding_round_trip(tmp_path):
    values = torch.tensor([[0.0, 0.5 / 255, 1.5 / 255, 0.2, 1.0, 1.7, -0.3]], dtype=torch.float64)
    assert to_uint8(values).tolist() == [[0, 0, 2, 51, 255, 255, 0]]
    image = torch.rand(1, 1, 13, 17)
    path = save_png(tmp_path / "sub" / "F1.png", image)
    assert np.array_equal(read_image(path), to_uint8(image))


def test_atomic_write_leaves_old_file_on_error(tmp_path):
    target = tmp_path / "results.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write("partial")
            raise RuntimeError("killed")
    assert target.read_text() == "old\n"
    assert list(tmp_path.iterdir()) == [target]


def test_alpha_channel_is_dropped_with_a_warning_naming_the_file(tmp_path, data_root):
    rgb = read_image(data_root / "VIFB/input/VI/fight.jpg", mode="rgb")[:40, :50]
    alpha = np.full(rgb.shape[:2], 128, np.uint8)
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([rgb, alpha]), mode="RGBA").save(rgba)
    with pytest.warns(UserWarning, match=r"rgba.png: alpha channel dropped \(RGBA image with transparency read as RGB"):
        assert np.array_equal(read_image(rgba, mode="native"), rgb)  # values as stored, not composited
    la = tmp_path / "la.png"
    Image.fromarray(np.dstack([rgb[..., 0], alpha]), mode="LA").save(la)
    with pytest.warns(UserWarning, match=r"la.png: alpha channel dropped \(LA image .* read as gray"):
        assert np.array_equal(read_image(la), rgb[..., 0])
    plain = tmp_path / "plain.png"
    Image.fromarray(rgb).save(plain)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no alpha, no warning
        read_image(plain)


def test_save_png_writes_rgb_and_uint8_levels(tmp_path, data_root):
    rgb = read_image(data_root / "VIFB/input/VI/fight.jpg", mode="rgb")[:30, :40]
    chw = torch.from_numpy(rgb.transpose(2, 0, 1).copy())
    for name, image in (("a", chw.float()[None] / 255), ("b", chw), ("c", chw.double() / 255)):
        path = save_png(tmp_path / f"{name}.png", image)
        with Image.open(path) as written:
            assert written.mode == "RGB" and np.array_equal(np.asarray(written), rgb)
    gray = save_png(tmp_path / "g.png", torch.from_numpy(rgb[..., 0].copy()))  # uint8: levels as they are
    assert np.array_equal(read_image(gray), rgb[..., 0])
