"""Known names, the download cache and the offline error (no remote host is ever contacted)."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest
from io_nets import port_networks
from io_pickle_writers import torch_port_pickle

from stylegan2_ada.errors import UserError
from stylegan2_ada.io import pretrained
from stylegan2_ada.io.load import load_networks

DEAD_URL = "http://127.0.0.1:9/stylegan2-ada-pytorch/ffhq-res256-mirror-paper256-noaug.pkl"  # discard port: refused


@pytest.fixture(scope="module")
def network_pickle() -> bytes:
    G, D, G_ema = port_networks()
    return torch_port_pickle(G, D, G_ema, "")


def test_known_names():
    assert pretrained.known_url("ffhq256").endswith("/transfer-learning-source-nets/ffhq-res256-mirror-paper256-noaug.pkl")
    assert pretrained.known_url("celebahq256").endswith("celebahq-res256-mirror-paper256-kimg100000-ada-target0.5.pkl")
    ngc = pretrained.known_url("stylegan2-ffhq-1024x1024.pkl")
    assert ngc == "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan2/versions/1/files/stylegan2-ffhq-1024x1024.pkl"
    assert pretrained.known_url("stylegan2-afhqcat-512x512") is not None
    assert len(pretrained.KNOWN_NETWORKS) == 5 + 15
    assert pretrained.known_url("ffhq9999") is None


def test_cache_dir_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv(pretrained.CACHE_ENV, str(tmp_path / "c"))
    assert pretrained.cache_dir() == tmp_path / "c"
    assert pretrained.cached_path(DEAD_URL) == tmp_path / "c" / "networks" / "ffhq-res256-mirror-paper256-noaug.pkl"
    monkeypatch.delenv(pretrained.CACHE_ENV)
    assert pretrained.cache_dir() == Path.home() / ".cache" / "stylegan2_ada"


def test_cache_hit_needs_no_network(tmp_path, monkeypatch, network_pickle):
    monkeypatch.setitem(pretrained.KNOWN_NETWORKS, "ffhq256", DEAD_URL)
    monkeypatch.setenv(pretrained.CACHE_ENV, str(tmp_path))
    cached = pretrained.cached_path(DEAD_URL)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(network_pickle)
    snap = load_networks("ffhq256")
    assert snap.metadata["source"] == DEAD_URL
    assert set(snap.networks) == {"G", "D", "G_ema"}


def test_offline_miss_says_what_to_download_and_where(tmp_path, monkeypatch):
    monkeypatch.setitem(pretrained.KNOWN_NETWORKS, "ffhq256", DEAD_URL)
    with pytest.raises(UserError) as info:
        load_networks("ffhq256", cache_dir=tmp_path)
    message = str(info.value)
    assert DEAD_URL in message
    assert str(tmp_path / "networks" / "ffhq-res256-mirror-paper256-noaug.pkl") in message
    assert "local file" in message
    assert list((tmp_path / "networks").iterdir()) == []  # no partial file left behind


def test_unknown_name_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="not a URL or a known network name"):
        load_networks(str(tmp_path / "nope.pkl"), cache_dir=tmp_path)


def test_url_is_downloaded_once_into_the_cache(tmp_path, network_pickle):
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(network_pickle)))
            self.end_headers()
            self.wfile.write(network_pickle)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/nets/mynet.pkl"
        first = load_networks(url, cache_dir=tmp_path)
        second = load_networks(url, cache_dir=tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    assert requests == ["/nets/mynet.pkl"]
    assert (tmp_path / "networks" / "mynet.pkl").read_bytes() == network_pickle
    assert [p.name for p in (tmp_path / "networks").iterdir()] == ["mynet.pkl"]
    assert first.metadata["source"] == second.metadata["source"] == url
