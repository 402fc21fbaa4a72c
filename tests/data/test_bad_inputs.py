"""A corpus of bad and odd inputs, built here from real bytes, through the real command in one run.

Folders with broken links, link loops, pipes, non-UTF-8 names and system files; a zip with a path-traversal
name, duplicates, a nested zip and a damaged member; a zip bomb (1.5 GB of zeros in 1.5 MB); empty,
truncated and fake videos; a .tfrecords file with damaged records among good ones; dataset.json files with
broken labels. The run must end normally (no traceback, exit 0), account for every input (used, or skipped
with the expected reason), write nothing outside --dest and its side folders, and never hold the bomb in
memory (peak RSS of the command and its workers, measured by a wrapper process).
"""

from __future__ import annotations

import io
import json
import os
import socket
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the TFRecord writer of test_tfrecords.py
from test_tfrecords import _corrupt_records, _write_tfrecords

REPO = Path(__file__).resolve().parents[2]
BOMB_BYTES = 3 << 29  # 1.5 GiB declared, and really decompressible to that
USED = "used"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _gradient(w: int = 80, h: int = 60) -> np.ndarray:
    x = np.linspace(0, 255, w)[None, :, None]
    y = np.linspace(0, 255, h)[:, None, None]
    return np.concatenate([np.broadcast_to(x, (h, w, 1)), np.broadcast_to(y, (h, w, 1)), np.full((h, w, 1), 90.0)], axis=2).astype(np.uint8)


def _encode(img: PIL.Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _with_size_field(data: bytes, offset: int, fmt: str, width: int, height: int) -> bytes:
    out = bytearray(data)
    out[offset : offset + struct.calcsize(fmt)] = struct.pack(fmt, *((height, width) if fmt == ">HH" else (width, height)))
    return bytes(out)


def _png_claiming(width: int, height: int) -> bytes:
    data = bytearray(_encode(PIL.Image.new("L", (1, 1)), "png"))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def _jpeg_claiming(width: int, height: int) -> bytes:
    data = _encode(PIL.Image.fromarray(_gradient()), "jpeg")
    sof = data.index(b"\xff\xc0")
    return _with_size_field(data, sof + 5, ">HH", width, height)


def _video(path: Path, frames: int = 30, faststart: bool = False) -> bytes:
    import imageio_ffmpeg

    rng = np.random.default_rng(frames)
    writer = imageio_ffmpeg.write_frames(str(path), (64, 48), fps=10, macro_block_size=16,
                                         output_params=["-movflags", "+faststart"] if faststart else [])
    writer.send(None)
    for _ in range(frames):
        writer.send(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8).tobytes())
    writer.close()
    return path.read_bytes()


def _zeros_deflate(size: int) -> tuple[bytes, int]:
    """A raw deflate stream of `size` zero bytes, made cheaply: one 16 MiB block, flushed so it stands on its
    own, repeated; then the final empty block."""
    chunk = 1 << 24
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(bytes(chunk)) + comp.flush(zlib.Z_FULL_FLUSH)
    crc, zero = 0, bytes(chunk)
    for _ in range(size // chunk):
        crc = zlib.crc32(zero, crc)
    return block * (size // chunk) + b"\x03\x00", crc


def _raw_zip(path: Path, members: list[tuple[str, int, bytes, int, int]]) -> None:
    """A zip from (name, method, stored bytes, crc, uncompressed size): zipfile would have to compress 1.5 GB."""
    out, central = bytearray(), bytearray()
    for name, method, data, crc, size in members:
        fname = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), size, len(fname), 0) + fname + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(data), size,
                               len(fname), 0, 0, 0, 0, 0, offset) + fname
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0)
    path.write_bytes(bytes(out + central + end))


class Corpus:
    """Writes inputs and remembers, per source and name, 'used' or words of the expected skip reason."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sources: list[str] = []
        self.expect: dict[str, dict[str, str]] = {}

    def source(self, path: Path | str) -> dict[str, str]:
        path = os.fsdecode(path)
        self.sources.append(path)
        return self.expect.setdefault(path, {})

    def count(self) -> int:
        return sum(len(names) for names in self.expect.values())


def _photos(c: Corpus, videos: bool) -> None:
    root = c.root / "photos"
    exp = c.source(root)
    grad = PIL.Image.fromarray(_gradient())

    def write(name: str, data: bytes, expect: str = USED) -> None:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        exp[name] = expect

    # Odd but usable.
    write("plain.jpg", _encode(grad, "jpeg", quality=95))
    write("progressive.jpg", _encode(grad, "jpeg", progressive=True))
    write("cmyk.jpg", _encode(grad.convert("CMYK"), "jpeg"))
    write("sixteen.png", _encode(PIL.Image.fromarray(np.linspace(0, 65535, 80 * 60).reshape(60, 80).astype(np.uint16)), "png"))
    write("sixteen.tif", _encode(PIL.Image.fromarray(np.linspace(0, 65535, 80 * 60).reshape(60, 80).astype(np.uint16)), "tiff"))
    write("palette_transparent.png", _encode(grad.convert("P", palette=PIL.Image.Palette.ADAPTIVE, colors=16), "png", transparency=0))
    rgba = np.concatenate([_gradient(), np.full((60, 80, 1), 255, np.uint8)], axis=2)
    rgba[:, :40, 3] = 0
    write("rgba.png", _encode(PIL.Image.fromarray(rgba, "RGBA"), "png"))
    write("gray.png", _encode(grad.convert("L"), "png"))
    write("gray_alpha.png", _encode(PIL.Image.fromarray(_gradient()[..., :2], "LA"), "png"))
    write("one_bit.png", _encode(grad.convert("1"), "png"))
    write("float.tif", _encode(PIL.Image.fromarray(_gradient()[..., 0].astype(np.float32) / 255, "F"), "tiff"))
    frames = [PIL.Image.new("RGB", (64, 64), color) for color in ((255, 0, 0), (0, 0, 255))]
    write("animated.gif", _encode(frames[0], "gif", save_all=True, append_images=frames[1:], duration=100, loop=0))
    for orientation in range(2, 9):  # every EXIF rotation and mirror a phone writes
        exif = PIL.Image.Exif()
        exif[0x0112] = orientation
        write(f"exif_orientation_{orientation}.jpg", _encode(grad, "jpeg", exif=exif.tobytes()))
    write("lossless.webp", _encode(grad, "webp", lossless=True))
    write("lossy.webp", _encode(grad, "webp", quality=80))
    write("photo.bmp", _encode(grad, "bmp"))
    write("photo.tga", _encode(grad, "tga"))
    write("photo.ppm", _encode(grad, "ppm"))
    write("icon.ico", _encode(grad.resize((64, 64)), "ico", sizes=[(64, 64)]))
    write("tall.png", _encode(PIL.Image.fromarray(_gradient(40, 120)), "png"))
    write("nested/deeper/photo.png", _encode(grad, "png"))
    write("émoji 😀 name.png", _encode(grad, "png"))
    raw_root = os.fsencode(root)
    with open(os.path.join(raw_root, b"caf\xe9.jpg"), "wb") as f:  # Latin-1 name from an old camera/OS
        f.write(_encode(grad, "jpeg"))
    exp["caf\\xe9.jpg"] = USED
    os.makedirs(os.path.join(raw_root, b"\xff\xfe_folder"))
    with open(os.path.join(raw_root, b"\xff\xfe_folder", b"inside.png"), "wb") as f:
        f.write(_encode(grad, "png"))
    exp["\\xff\\xfe_folder/inside.png"] = USED

    # Broken or not photos.
    jpeg = _encode(PIL.Image.fromarray(_gradient(400, 300)), "jpeg", quality=95)
    write("truncated.jpg", jpeg[: len(jpeg) // 3], "truncated")
    png = _encode(PIL.Image.fromarray(np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)), "png")
    write("truncated.png", png[: len(png) // 2], "truncated")
    webp = _encode(PIL.Image.fromarray(_gradient(400, 300)), "webp")
    write("truncated.webp", webp[: len(webp) // 2], "WebP")
    write("empty.jpg", b"", "empty file")
    write("notes.jpg", b"this is a text file with a photo extension\n", "not an image")
    write("saved_page.jpg", b"<!DOCTYPE html>\n<html><body>403 Forbidden</body></html>\n", "HTML page")
    write("document.png", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", "PDF document")
    write("garbage.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "corrupt")
    write("bomb.png", _png_claiming(100_000, 100_000), "too large")
    write("bomb.jpg", _jpeg_claiming(65_000, 65_000), "too large")
    write("bomb.gif", _with_size_field(_encode(grad, "gif"), 6, "<HH", 65_535, 65_535), "too large")
    write("one_pixel.png", _encode(PIL.Image.new("RGB", (1, 1)), "png"), "too small")
    write("tiny.png", _encode(grad.resize((3, 3)), "png"), "too small")
    write("README.txt", b"photos from the trip\n", "not an image")
    write(".DS_Store", b"\x00\x00\x00\x01Bud1" + bytes(100), ".DS_Store")
    write("Thumbs.db", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "Thumbs.db")
    write("desktop.ini", b"[.ShellClassInfo]\r\n", "desktop.ini")
    write("._plain.jpg", b"\x00\x05\x16\x07" + bytes(60), "resource fork")
    write(".hidden.jpg", _encode(grad, "jpeg"), "hidden file")
    write("__MACOSX/._photo.png", b"\x00\x05\x16\x07", "__MACOSX")
    exp.pop("__MACOSX/._photo.png")
    exp["__MACOSX/"] = "__MACOSX"
    write(".git/HEAD", b"ref: refs/heads/main\n", "version-control")
    exp.pop(".git/HEAD")
    exp[".git/"] = "version-control"
    write("archive.zip", _encode(grad, "png"), "archive inside the source")
    write("tf/old-r04.tfrecords", b"\x00" * 32, "TFRecords dataset file inside")
    write("sub/dataset.json", json.dumps({"labels": None}).encode(), "below the top folder")
    (root / "sub" / "photo.png").write_bytes(_encode(grad, "png"))
    exp["sub/photo.png"] = USED

    # Links and special files.
    os.symlink("..", root / "sub" / "up")
    exp["sub/up/"] = "symbolic link loop"
    os.symlink("self_loop.jpg", root / "self_loop.jpg")
    exp["self_loop.jpg"] = "symbolic link loop"
    os.symlink("missing/clip.mp4", root / "dangling.mp4")
    exp["dangling.mp4"] = "broken symbolic link"
    os.symlink("gone.jpg", root / "dangling.jpg")
    exp["dangling.jpg"] = "broken symbolic link"
    os.symlink("plain.jpg", root / "link_to_plain.jpg")
    exp["link_to_plain.jpg"] = "the same file as 'plain.jpg'"
    os.symlink("nested", root / "twin_dir")
    exp["twin_dir/"] = "the same folder as 'nested'"
    os.mkfifo(root / "pipe.jpg")
    exp["pipe.jpg"] = "named pipe"
    os.mkfifo(root / "pipe.mp4")
    exp["pipe.mp4"] = "named pipe"
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(root / "s.png"))
        exp["s.png"] = "a socket"
    except OSError:
        pass  # path too long for a socket here
    finally:
        sock.close()
    if not IS_ROOT:  # root reads everything
        write("unreadable.jpg", _encode(grad, "jpeg"), "permission denied")
        os.chmod(root / "unreadable.jpg", 0)
        write("locked/photo.jpg", _encode(grad, "jpeg"))
        exp.pop("locked/photo.jpg")
        exp["locked/"] = "cannot list this folder: permission denied"
        os.chmod(root / "locked", 0)

    if videos:  # real encodes by ffmpeg, then damaged
        clip = _video(root / "clip.mp4")
        exp.update({f"clip.mp4#frame{i:06d}": USED for i in (0, 10, 20)})
        write("truncated_index.mp4", clip[: len(clip) * 6 // 10], "its index (moov atom) is missing")
        fast = _video(root / "fast_tmp.mp4", faststart=True)
        (root / "fast_tmp.mp4").unlink()
        write("cut_short.mp4", fast[: len(fast) * 6 // 10], "damaged video: the video ends early")
        exp.update({f"cut_short.mp4#frame{i:06d}": USED for i in (0, 10)})
        write("empty.mp4", b"", "empty video file")
        write("fake.mp4", b"this is not a video at all\n" * 20, "cannot decode video")
        write("fake.mov", b"\x00\x00\x00\x18ftypqt  " + os.urandom(2000), "cannot decode video")


def _zip_source(c: Corpus) -> None:
    path = c.root / "archive.zip"
    exp = c.source(path)
    grad = PIL.Image.fromarray(_gradient())
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("inside.png", _encode(grad, "png"))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data, expect in [
            ("good1.png", _encode(grad, "png"), USED),
            ("photos/good2.jpg", _encode(grad, "jpeg"), USED),
            ("photos/good3.webp", _encode(grad, "webp"), USED),
            ("../evil.png", _encode(grad, "png"), "path-traversal"),
            ("/abs/evil.png", _encode(grad, "png"), "path-traversal"),
            ("C:/windows/evil.png", _encode(grad, "png"), "path-traversal"),
            ("dup.png", _encode(grad.rotate(90), "png"), USED),
            ("inner.zip", inner.getvalue(), "archive inside the source"),
            ("__MACOSX/._good1.png", b"\x00\x05\x16\x07", "__MACOSX"),
            (".DS_Store", b"\x00\x00\x00\x01Bud1", ".DS_Store"),
            ("clip.mp4", b"\x00\x00\x00\x18ftypisom", "video inside a zip"),
            ("notes.txt", b"hello", "not an image"),
            ("empty.png", b"", "empty file"),
            ("page.jpg", b"<html><body>not found</body></html>", "HTML page"),
            ("huge.png", _png_claiming(60_000, 60_000), "too large"),
            ("bad_crc.png", _encode(grad, "png"), "damaged zip member"),
        ]:
            zf.writestr(name, data)
            exp[name] = expect
        with pytest.warns(UserWarning, match="Duplicate"):
            zf.writestr("dup.png", _encode(grad, "png"))  # a second member of the same name
        zf.writestr("photos/", b"")  # a directory entry: nothing to report
        zf.writestr("dataset.json", json.dumps({"labels": [["good1.png", 1], ["photos/good2.jpg"], ["dup.png", "x"]]}))
    exp["dup.png (2)"] = "same name"
    exp["dataset.json"] = "label file"
    exp["dataset.json (2)"] = "no label after the name"
    exp["dataset.json (3)"] = "not a label"
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("bad_crc.png")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0x55
    path.write_bytes(bytes(data))


def _bomb_source(c: Corpus) -> None:
    path = c.root / "bomb.zip"
    exp = c.source(path)
    bomb, crc = _zeros_deflate(BOMB_BYTES)
    medium, medium_crc = _zeros_deflate(96 << 20)  # under the size limit: refused from its header instead
    ok = _encode(PIL.Image.fromarray(_gradient()), "png")
    _raw_zip(path, [("bomb.png", 8, bomb, crc, BOMB_BYTES), ("medium.png", 8, medium, medium_crc, 96 << 20),
                    ("ok.png", 0, ok, zlib.crc32(ok), len(ok))])
    assert path.stat().st_size < 3 << 20
    exp.update({"bomb.png": "zip bomb", "medium.png": "not an image", "ok.png": USED})


def _tfrecords_source(c: Corpus) -> None:
    path = c.root / "old-r05.tfrecords"
    exp = c.source(path)
    rng = np.random.default_rng(5)
    images = [rng.integers(0, 256, size=(3, 32, 32), dtype=np.uint8) for _ in range(7)]
    _write_tfrecords(path, images)
    damaged = _corrupt_records(path, images)
    for i in range(7):
        exp[f"old-r05.tfrecords#{i:08d}"] = damaged.get(i, USED)
    exp.pop("old-r05.tfrecords#00000003")
    exp.pop("old-r05.tfrecords#00000006")
    exp["old-r05.tfrecords@"] = damaged[3]  # byte ranges: matched by prefix
    exp["old-r05.tfrecords@ (2)"] = damaged[6]


def _label_sources(c: Corpus) -> None:
    grad = PIL.Image.fromarray(_gradient())
    for folder, content, notes in [
        ("labels_dict", {"labels": {"a.png": 0, "b.png": 1}}, ["2 labels read"]),
        ("labels_one_element", {"labels": [["a.png"], ["b.png", 1]]}, ["1 label read", "no label after the name"]),
        ("labels_junk", {"labels": [["a.png", "cat"], "oops", ["b.png", 1, 2], ["nothere.png", 1]]},
         ["1 label read", "not a label", "is not a [name, label] pair", "is not a [name, label] pair", "not in the folder"]),
        ("labels_not_json", None, ["0 labels read", "not valid JSON"]),
    ]:
        root = c.root / folder
        exp = c.source(root)
        root.mkdir()
        for i, name in enumerate(("a.png", "b.png")):
            (root / name).write_bytes(_encode(grad.rotate(30 * i + len(folder)), "png"))
            exp[name] = USED
        (root / "dataset.json").write_text("{oops" if content is None else json.dumps(content))
        for k, words in enumerate(notes):
            exp["dataset.json" + (f" ({k + 1})" if k else "")] = words


def _single_files(c: Corpus, videos: bool) -> None:
    raw = os.path.join(os.fsencode(c.root), b"\xe9t\xe9.jpg")
    with open(raw, "wb") as f:
        f.write(_encode(PIL.Image.fromarray(_gradient()).rotate(45), "jpeg"))
    c.source(raw)["\\xe9t\\xe9.jpg"] = USED
    if videos:
        fake = c.root / "direct_fake.mp4"
        fake.write_bytes(b"<html>a download that failed</html>")
        c.source(fake)["direct_fake.mp4"] = "cannot decode video"


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out[os.fsdecode(os.path.relpath(path, os.fsencode(root)))] = (st.st_size, st.st_mtime_ns)
    return out


def _match(expect: dict[str, str], entries: list[tuple[str, str]]) -> list[str]:
    """Pairs each expected name with one report entry (name, 'used' or reason); returns the mismatches."""
    problems = []
    pool = list(entries)
    for key, words in sorted(expect.items()):
        name = key.split(" (")[0]
        hit = next((e for e in pool if (e[0] == name or (name.endswith("@") and e[0].startswith(name)))
                    and (e[1] == USED) == (words == USED) and (words == USED or words in e[1])), None)
        if hit is None:
            problems.append(f"{key}: expected {words!r}, report has {[e for e in entries if e[0] == name]}")
        else:
            pool.remove(hit)
    problems += [f"unexpected report entry {e}" for e in pool]
    return problems


def test_corpus_of_bad_inputs_runs_to_the_end(tmp_path: Path) -> None:
    try:
        import imageio_ffmpeg  # noqa: F401

        videos = True
    except ImportError:
        videos = False
    inputs = tmp_path / "in"
    inputs.mkdir()
    corpus = Corpus(inputs)
    _photos(corpus, videos)
    _zip_source(corpus)
    _bomb_source(corpus)
    _tfrecords_source(corpus)
    _label_sources(corpus)
    _single_files(corpus, videos)
    assert corpus.count() >= 100
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    before = _snapshot(tmp_path)

    dest = tmp_path / "out" / "ds.zip"
    command = [sys.executable, "scripts/dataset_tool.py", *[f"--source={s}" for s in corpus.sources], f"--dest={dest}",
               "--resolution=32", "--workers=2", "--every-nth-frame=10", "--no-progress", "--min-image-size=16"]
    # A wrapper measures the peak RSS of the command and its workers only (RUSAGE_CHILDREN covers every
    # descendant it waited for), whatever else this test process ran before.
    wrapper = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True); "
               "sys.stderr.buffer.write(r.stderr); "
               "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    env = dict(os.environ, HOME=str(home), TMPDIR=str(tmp), OMP_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-c", wrapper, *command], cwd=REPO, capture_output=True, text=True,
                         timeout=600, env=env, errors="replace", check=False)
    returncode, peak_kib = (int(v) for v in run.stdout.split())
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert returncode == 0, run.stderr[-3000:]
    peak = peak_kib * 1024
    print(f"peak RSS of prepare and its workers: {peak / 2**20:.0f} MiB (bomb: {BOMB_BYTES / 2**20:.0f} MiB)")
    assert peak < BOMB_BYTES / 4

    manifest = json.loads((tmp_path / "out" / "ds_report" / "manifest.json").read_text())
    by_source: dict[str, list[tuple[str, str]]] = {s: [] for s in corpus.sources}

    def owner(path: str) -> str:
        shown = {s: s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace") for s in corpus.sources}
        return max((s for s in corpus.sources if path == shown[s] or path.startswith(shown[s] + "/")), key=len)

    for entry in manifest["images"]:
        by_source[owner(entry["source_path"])].append((entry["source"], USED))
    label_notes = []
    for skip in manifest["skipped"]:
        if skip["source"] == "(labels)":
            label_notes.append(skip["reason"])
            continue
        by_source[owner(skip["path"])].append((skip["source"], skip["reason"]))
    problems = [f"{src}: {p}" for src in corpus.sources for p in _match(corpus.expect[src], by_source[src])]
    assert not problems, "\n".join(problems)
    assert len(label_notes) == 1 and "the source's labels are not used" in label_notes[0]
    assert manifest["summary"]["images"] == sum(v == USED for e in corpus.expect.values() for v in e.values())

    # Nothing written anywhere but the destination and its side folders: not in the inputs, not next to
    # the zip that tried '../evil.png', not in HOME or TMPDIR.
    after = _snapshot(tmp_path)
    changed = {p for p in after if before.get(p) != after[p]} | (set(before) - set(after))
    allowed = ("out", "out/ds.zip", "out/ds_work", "out/ds_report")
    outside = sorted(p for p in changed if not any(p == a or p.startswith(a + "/") for a in allowed))
    assert outside == [], outside
    assert not list(tmp_path.glob("**/evil.png"))
    assert sorted(os.listdir(tmp_path / "out")) == ["ds.zip", "ds_report", "ds_work"]


@pytest.fixture(autouse=True)
def _restore_permissions(tmp_path: Path):
    yield
    for path in (tmp_path / "in" / "photos" / "unreadable.jpg", tmp_path / "in" / "photos" / "locked"):
        if path.exists():
            os.chmod(path, 0o700)
