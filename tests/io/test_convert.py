"""`stylegan2-ada convert` and scripts/convert.py: NVIDIA pickle -> our safetensors -> same outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from io_nets import assert_same_discriminator, assert_same_generator, port_networks, tf_setup
from io_pickle_writers import tf_pickle, torch_port_pickle

from stylegan2_ada.cli import main
from stylegan2_ada.io.load import load_networks
from stylegan2_ada.io.snapshot import load_snapshot

REPO = Path(__file__).resolve().parents[2]


def test_convert_round_trip(tmp_path, capsys):
    G, D, G_ema = port_networks(c_dim=2)
    src = tmp_path / "network-snapshot-000200.pkl"
    src.write_bytes(torch_port_pickle(G, D, G_ema, ""))
    dest = tmp_path / "out" / "snap200.safetensors"

    assert main(["convert", f"--network={src}", f"--dest={dest}"]) == 0

    assert "wrote" in capsys.readouterr().out
    snap = load_snapshot(dest)
    assert set(snap.networks) == {"G", "D", "G_ema"}
    assert snap.metadata["source"] == str(src) and snap.metadata["source_kind"] == "nvidia-pytorch-pickle"
    assert json.loads(dest.with_suffix(".json").read_text())["metadata"]["source"] == str(src)
    assert_same_generator(snap.networks["G_ema"], G_ema)
    assert_same_generator(snap.networks["G"], G, run=False)
    assert_same_discriminator(snap.networks["D"], D)
    # Our own format loads through the same entry point and keeps its provenance.
    assert load_networks(dest).metadata["source"] == str(src)


def test_convert_script_from_repo_root_with_outdir(tmp_path):
    G, D, Gs, g_kwargs, d_kwargs = tf_setup(0, 1)
    src = tmp_path / "tf-net.pkl"
    src.write_bytes(tf_pickle(G, D, Gs, g_kwargs, d_kwargs))
    result = subprocess.run(
        [sys.executable, "scripts/convert.py", f"--network={src}", f"--outdir={tmp_path / 'o'}"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    snap = load_snapshot(tmp_path / "o" / "tf-net.safetensors")
    assert snap.metadata["source_kind"] == "nvidia-tf-pickle"
    assert_same_generator(snap.networks["G_ema"], Gs)


def test_convert_needs_a_destination(tmp_path, capsys):
    assert main(["convert", "--network=ffhq256"]) == 2
    assert "--dest" in capsys.readouterr().err


def test_full_disk_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    import stylegan2_ada.io.snapshot as snapshot_module

    G, D, G_ema = port_networks()
    src = tmp_path / "net.pkl"
    src.write_bytes(torch_port_pickle(G, D, G_ema, ""))

    def disk_full(tensors, filename, metadata=None):  # the disk fills up half-way through the file
        with open(filename, "wb") as f:
            f.write(b"partial")
        raise OSError(28, "No space left on device", filename)

    monkeypatch.setattr(snapshot_module, "save_file", disk_full)
    assert main(["convert", f"--network={src}", f"--dest={tmp_path / 'out.safetensors'}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: the disk is full") and "--resume=latest" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.pkl"]  # no partial or temporary file


def test_os_errors_users_fix_get_a_line_and_others_stay_tracebacks():
    import errno

    from stylegan2_ada.cli.common import exit_code
    from stylegan2_ada.errors import describe_os_error

    def fail(code):
        def body():
            raise OSError(code, os.strerror(code), "/data/out.safetensors")

        return body

    denied = describe_os_error(OSError(errno.EACCES, "x", "/data/out.safetensors"))
    assert denied is not None and denied.startswith("permission denied (/data/out.safetensors)")
    assert describe_os_error(OSError(errno.EROFS, "x")).startswith("permission denied")  # same advice
    assert exit_code(fail(errno.EDQUOT)) == 2
    with pytest.raises(OSError):  # not something the user can fix: a real traceback for the bug report
        exit_code(fail(errno.EBADF))
