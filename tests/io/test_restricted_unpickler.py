"""Malicious or foreign pickles are refused before anything in them runs."""

from __future__ import annotations

import builtins
import io
import os
import pickle
import subprocess

import numpy as np
import pytest
from io_nets import port_networks
from io_pickle_writers import torch_port_pickle

from stylegan2_ada.errors import UserError
from stylegan2_ada.io.load import load_networks
from stylegan2_ada.io.restricted_unpickler import UnsafePickleError, load_pickle


class _Reduce:
    """Pickles as a call of `func(*args)`, the way every pickle exploit does."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _payloads(marker: str) -> dict[str, bytes]:
    touch = f"touch {marker}"
    write = f"open({marker!r}, 'w').write('pwned')"
    return {
        # Hand-written, as exploits are: GLOBAL os.system, then REDUCE with a shell command.
        "os.system": f"cos\nsystem\n(V{touch}\ntR.".encode(),
        "posix.system": pickle.dumps(_Reduce(os.system, touch)),
        "builtins.eval": pickle.dumps(_Reduce(builtins.eval, write)),
        "builtins.exec": pickle.dumps(_Reduce(builtins.exec, write)),
        "subprocess.Popen": pickle.dumps(_Reduce(subprocess.Popen, ["touch", marker])),
        "builtins.getattr": pickle.dumps(_Reduce(getattr, {}, "clear")),
        "torch.load": f"ctorch\nload\n(V{marker}\ntR.".encode(),
    }


@pytest.mark.parametrize("name", list(_payloads("x")))
def test_code_execution_payloads_are_refused_without_side_effects(tmp_path, name):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(_payloads(str(marker))[name])
    with pytest.raises(UnsafePickleError, match=f"`{name}`"):
        load_pickle(path)
    with pytest.raises(UserError, match="refused"):
        load_networks(path)
    assert not marker.exists()


def test_the_payload_is_real(tmp_path):
    # Control: the stock unpickler runs the same bytes (so the refusal above is what protects us).
    marker = tmp_path / "pwned"
    pickle.loads(_payloads(str(marker))["builtins.exec"])
    assert marker.exists()


def test_payload_hidden_inside_a_network_pickle_is_refused(tmp_path):
    G, D, G_ema = port_networks()
    marker = tmp_path / "pwned"
    payload = _Reduce(builtins.exec, f"open({str(marker)!r}, 'w')")
    path = tmp_path / "evil-network.pkl"
    path.write_bytes(torch_port_pickle(G, D, G_ema, "", extra={"progress": {"note": payload}}))
    with pytest.raises(UnsafePickleError, match="builtins.exec"):
        load_networks(path)
    assert not marker.exists()


def test_state_set_on_a_class_is_refused(tmp_path):
    # BUILD on the OrderedDict class would set class attributes for the whole process.
    raw = b"ccollections\nOrderedDict\n(dp0\nVx\nI1\nsb."
    with pytest.raises(UnsafePickleError, match="sets state"):
        load_pickle(io.BytesIO(raw))


def test_numpy_object_arrays_are_refused():
    raw = pickle.dumps(np.array([1, "a"], dtype=object), protocol=3).replace(b"numpy._core", b"numpy.core")
    with pytest.raises(UnsafePickleError, match="objects"):
        load_pickle(io.BytesIO(raw))


def test_persistent_ids_are_refused():
    raw = b"\x80\x02X\x03\x00\x00\x00abcQ."  # BINPERSID
    with pytest.raises(UnsafePickleError, match="persistent"):
        load_pickle(io.BytesIO(raw))


def test_plain_data_and_arrays_load(tmp_path):
    value = {"a": [1, 2.5, "x", None, (True, b"raw")], "arr": np.arange(6, dtype=np.float32).reshape(2, 3), "s": {1, 2}}
    for protocol in (2, 3, 4, 5):
        out = load_pickle(io.BytesIO(pickle.dumps(value, protocol=protocol)))
        assert out["a"] == value["a"] and out["s"] == value["s"]
        np.testing.assert_array_equal(out["arr"], value["arr"])


def test_not_a_pickle_is_a_clear_error(tmp_path):
    path = tmp_path / "junk.pkl"
    path.write_bytes(b"this is not a pickle")
    with pytest.raises(UserError, match="not a readable network pickle"):
        load_networks(path)


def test_torch_save_archive_is_a_clear_error(tmp_path):
    import torch

    path = tmp_path / "model.pkl"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(UserError, match="torch.save"):
        load_networks(path)


def _outer_storage_pickle(inner: bytes) -> bytes:
    # torch.storage._load_from_bytes(<inner bytes>), as plain pickle.dump writes a tensor's storage.
    return b"\x80\x04ctorch.storage\n_load_from_bytes\nB" + len(inner).to_bytes(4, "little") + inner + b"\x85R."


def test_payload_inside_a_tensor_storage_stream_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    header = pickle.dumps(0x1950A86A20F9469CFC6C, 2) + pickle.dumps(1001, 2) + pickle.dumps({"little_endian": True}, 2)
    inner = header + f"cos\nsystem\n(Vtouch {marker}\ntR.".encode()
    with pytest.raises(UnsafePickleError, match="`os.system`"):
        load_pickle(io.BytesIO(_outer_storage_pickle(inner)))
    assert not marker.exists()


def test_tensor_outside_its_storage_is_refused():
    import torch

    raw = pickle.dumps(torch.arange(6.0))
    assert load_pickle(io.BytesIO(raw)).tolist() == [0, 1, 2, 3, 4, 5]
    # Claim 600 elements instead of 6: the size in the _rebuild_tensor_v2 call ((6,) -> (600,)).
    bad = raw.replace(b"K\x06\x85", b"MX\x02\x85", 1)
    assert bad != raw
    with pytest.raises(UnsafePickleError, match="does not fit"):
        load_pickle(io.BytesIO(bad))
