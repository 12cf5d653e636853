"""Reading any image PIL opens, and writing atomically."""

import numpy as np
import pytest
from PIL import Image

from painterly.errors import PainterlyError
from painterly.media.io import atomic_path, load_image


def pixel(image):
    return image.getpixel((0, 0))


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: Image.new("L", (4, 4), 128), (128, 128, 128)),
        (lambda: Image.new("RGBA", (4, 4), (255, 0, 0, 0)), (255, 255, 255)),  # transparent -> white
        (lambda: Image.new("RGBA", (4, 4), (255, 0, 0, 255)), (255, 0, 0)),
        (lambda: Image.new("LA", (4, 4), (0, 255)), (0, 0, 0)),
        (lambda: Image.fromarray(np.full((4, 4), 65535, np.uint16)), (255, 255, 255)),  # 16-bit white
        (lambda: Image.fromarray(np.full((4, 4), 32768, np.uint16)), (128, 128, 128)),
        (lambda: Image.new("P", (4, 4), 3), None),
    ],
)
def test_any_png_mode_becomes_rgb(tmp_path, make, expected):
    path = tmp_path / "in.png"
    original = make()
    original.save(path)
    image = load_image(path)
    assert image.mode == "RGB" and image.size == (4, 4)
    assert pixel(image) == (expected or pixel(original.convert("RGB")))


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(path)  # red in CMYK
    r, g, b = pixel(load_image(path))
    assert r > 200 and g < 60 and b < 60


def test_exif_rotation_is_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    Image.new("RGB", (40, 20)).save(path, exif=exif)
    assert load_image(path).size == (20, 40)


@pytest.mark.parametrize(
    "write, message",
    [
        (None, "no such image file"),
        (b"", "the file is empty"),
        (b"this is not an image", "not a readable image"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR truncated", "not a readable image"),
    ],
)
def test_bad_image_is_a_one_line_error_naming_it(tmp_path, write, message):
    path = tmp_path / "broken.png"
    if write is not None:
        path.write_bytes(write)
    with pytest.raises(PainterlyError, match=message) as error:
        load_image(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.png"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and list(tmp_path.iterdir()) == [target]
