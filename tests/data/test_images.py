"""Robust loading: a corpus of broken and odd files, generated here, goes through without loss."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from stylegan2_ada.data.images import ImageLoadError, load_image, parse_color
from stylegan2_ada.data.prepare import PrepareOptions, prepare


def _gradient(w: int = 80, h: int = 60) -> np.ndarray:
    x = np.linspace(0, 255, w)[None, :, None]
    y = np.linspace(0, 255, h)[:, None, None]
    return np.concatenate([np.broadcast_to(x, (h, w, 1)), np.broadcast_to(y, (h, w, 1)), np.full((h, w, 1), 90.0)], axis=2).astype(np.uint8)


def _png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a gigantic size (a decompression bomb's signature)."""
    buf = io.BytesIO()
    PIL.Image.new("L", (1, 1)).save(buf, format="png")
    data = bytearray(buf.getvalue())
    ihdr = 8 + 8  # signature, then length+type of the IHDR chunk
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


def make_corpus(root: Path) -> tuple[set[str], dict[str, str]]:
    """Returns (names that must become images, {name: expected words in the skip reason})."""
    grad = _gradient()
    good, bad = set(), {}

    def save(name: str, img: PIL.Image.Image, **kw) -> None:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path, **kw)
        good.add(name)

    save("plain.jpg", PIL.Image.fromarray(grad), quality=95)
    save("cmyk.jpg", PIL.Image.fromarray(grad).convert("CMYK"))
    save("sixteen.png", PIL.Image.fromarray((np.linspace(0, 65535, 80 * 60).reshape(60, 80)).astype(np.uint16)))
    pal = PIL.Image.fromarray(grad).convert("P", palette=PIL.Image.Palette.ADAPTIVE, colors=16)
    save("palette.png", pal, transparency=0)
    rgba = np.concatenate([grad, np.full((60, 80, 1), 255, np.uint8)], axis=2)
    rgba[:, :40, 3] = 0
    save("rgba.png", PIL.Image.fromarray(rgba, "RGBA"))
    save("gray.png", PIL.Image.fromarray(grad[..., 0]))
    save("gray_alpha.png", PIL.Image.fromarray(grad[..., :2], "LA"))
    save("one_bit.png", PIL.Image.fromarray(grad[..., 0] > 128))
    save("float.tif", PIL.Image.fromarray(grad[..., 0].astype(np.float32) / 255.0, "F"))
    frames = [PIL.Image.new("RGB", (64, 64), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(root / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    good.add("animated.gif")
    exif = PIL.Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    save("rotated_exif.jpg", PIL.Image.fromarray(grad), exif=exif.tobytes(), quality=95)
    save("nested/deeper/photo.webp", PIL.Image.fromarray(grad), lossless=True)
    save("photo.bmp", PIL.Image.fromarray(grad))

    jpeg = io.BytesIO()
    PIL.Image.fromarray(_gradient(400, 300)).save(jpeg, format="jpeg", quality=95)
    (root / "truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 3])
    bad["truncated.jpg"] = "truncated"
    (root / "empty.jpg").write_bytes(b"")
    bad["empty.jpg"] = "empty"
    (root / "notes.jpg").write_text("this is a text file with a photo extension\n")
    bad["notes.jpg"] = "not an image"
    (root / "README.txt").write_text("photos from the trip\n")
    bad["README.txt"] = "not an image"
    (root / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    bad["garbage.png"] = "corrupt"
    (root / "bomb.png").write_bytes(_png_claiming_size(100_000, 100_000))
    bad["bomb.png"] = "too large"
    PIL.Image.fromarray(grad[:3, :3]).save(root / "tiny.png")
    bad["tiny.png"] = "too small"
    return good, bad


def test_corpus_is_handled_with_nothing_lost(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    src.mkdir()
    good, bad = make_corpus(src)
    opts = PrepareOptions(
        sources=[str(src)], dest=str(tmp_path / "out.zip"), resolution=32, mode="resize",
        workers=2, progress=False, background=(255, 0, 0), min_image_size=16,
    )
    result = prepare(opts, log=lambda _: None)
    manifest = json.loads(Path(result.report["manifest"]).read_text())
    used = {entry["source"] for entry in manifest["images"]}
    skipped = {s["source"]: s["reason"] for s in manifest["skipped"]}
    assert used == good
    assert set(skipped) == set(bad)
    for name, words in bad.items():
        assert words in skipped[name], (name, skipped[name])
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        assert all(info.compress_type == zipfile.ZIP_STORED for info in zf.infolist())
        assert len([n for n in zf.namelist() if n.endswith(".png")]) == len(good)
    assert Path(result.report["contact_sheet"]).is_file() and Path(result.report["html"]).is_file()


def test_odd_modes_decode_to_sensible_rgb(tmp_path: Path) -> None:
    make_corpus(tmp_path)
    rgba = load_image(tmp_path / "rgba.png", background=(255, 0, 0))
    assert np.all(rgba.pixels[:, :40] == (255, 0, 0))  # transparent half shows the background colour
    assert np.array_equal(rgba.pixels[:, 40:], _gradient()[:, 40:])
    sixteen = load_image(tmp_path / "sixteen.png")
    assert sixteen.grayscale and sixteen.pixels.min() == 0 and sixteen.pixels.max() == 255  # scaled, not clipped
    assert load_image(tmp_path / "gray.png").grayscale and not load_image(tmp_path / "plain.jpg").grayscale
    gif = load_image(tmp_path / "animated.gif")
    assert np.abs(gif.pixels.astype(int) - (255, 0, 0)).max() <= 2  # first frame
    rotated = load_image(tmp_path / "rotated_exif.jpg")
    assert rotated.pixels.shape == (80, 60, 3)  # EXIF orientation applied
    # Turned clockwise: the left-to-right red ramp now runs top to bottom, the green ramp right to left.
    px = rotated.pixels.astype(int)
    assert px[0, :, 0].mean() < 20 and px[-1, :, 0].mean() > 235
    assert px[:, -1, 1].mean() < 20 and px[:, 0, 1].mean() > 235
    cmyk = load_image(tmp_path / "cmyk.jpg")
    assert np.abs(cmyk.pixels.astype(int) - _gradient().astype(int)).mean() < 12
    flt = load_image(tmp_path / "float.tif")
    assert np.abs(flt.pixels[..., 0].astype(int) - _gradient()[..., 0]).max() <= 1


def test_load_errors_are_one_line_reasons(tmp_path: Path) -> None:
    make_corpus(tmp_path)
    for name in ("truncated.jpg", "empty.jpg", "notes.jpg", "garbage.png", "bomb.png"):
        with pytest.raises(ImageLoadError) as info:
            load_image(tmp_path / name)
        assert "\n" not in str(info.value) and str(info.value)


def test_parse_color() -> None:
    assert parse_color("white") == (255, 255, 255)
    assert parse_color("#ff8000") == (255, 128, 0)
    assert parse_color("1,2,3") == (1, 2, 3)
    with pytest.raises(ValueError, match="not valid"):
        parse_color("bluish")
