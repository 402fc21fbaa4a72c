"""A corpus of malformed and malicious network files, generated here (no binary fixtures in the repository).

Each Case builds one file (or folder) in a directory and says which command opens it and what its one
`error:` line must say. Payloads that would run code write a marker file, whose absence the test checks.
Controls are well-formed files (some carrying code that would leave a marker if executed) that must load.
"""

from __future__ import annotations

import copy
import functools
import gzip
import io
import json
import math
import os
import pickle
import pickletools
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from io_nets import port_networks, tf_setup
from io_pickle_writers import (
    EasyDict,
    discriminator_init_kwargs,
    dumps,
    generator_init_kwargs,
    marker_source,
    persistent_module,
    tf_discriminator,
    tf_generator,
    torch_port_pickle,
)
from PIL import Image
from safetensors.torch import save_file

from stylegan2_ada.config import network_configs
from stylegan2_ada.io.snapshot import save_snapshot
from stylegan2_ada.nn import Discriminator, Generator

Builder = Callable[[Path, str], Path]  # (folder to write in, marker path) -> the --network path


@dataclass(frozen=True)
class Case:
    name: str
    family: str  # "pickle", "safetensors" or "other"
    build: Builder
    expect: str  # regex the error line must match ("" for controls)
    command: str = "generate"  # or "convert"
    control: bool = False  # a good file: it must load (and still run nothing)


CASES: list[Case] = []


def case(
    name: str, family: str, expect: str, command: str = "generate", control: bool = False
) -> Callable[[Builder], Builder]:
    def register(build: Builder) -> Builder:
        CASES.append(Case(name, family, build, expect, command, control))
        return build

    return register


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


# --- base files (built once) -------------------------------------------------------------------------


@functools.cache
def _port() -> tuple[Any, Any, Any]:
    return port_networks()


@functools.cache
def _port_bytes() -> bytes:
    G, D, G_ema = _port()
    return torch_port_pickle(G, D, G_ema, "")


def _port_pickle(
    g_kwargs: Any = None, d_kwargs: Any = None, g_state: Any = None, extra: Any = None, module_src: str = ""
) -> bytes:
    """A port pickle of the tiny networks with init_kwargs (or weights) replaced."""
    G, D, G_ema = _port()
    gk = generator_init_kwargs(G.cfg) if g_kwargs is None else g_kwargs
    dk = discriminator_init_kwargs(D.cfg) if d_kwargs is None else d_kwargs
    G_obj = persistent_module(G if g_state is None else g_state, "Generator", module_src, gk)
    data = {
        "G": G_obj,
        "D": persistent_module(D, "Discriminator", module_src, dk),
        "G_ema": persistent_module(G_ema if g_state is None else g_state, "Generator", module_src, gk),
        "augment_pipe": None,
        "training_set_kwargs": EasyDict(path="data.zip", resolution=16),
        **(extra or {}),
    }
    return dumps(data, protocol=4)


def _g_kwargs(**changes: Any) -> dict[str, Any]:
    kwargs = generator_init_kwargs(_port()[0].cfg)
    synthesis = EasyDict(kwargs["synthesis_kwargs"])
    for key, value in changes.items():
        if key in synthesis or key in ("architecture", "use_noise", "bogus_option"):
            synthesis[key] = value
        else:
            kwargs[key] = value
    kwargs["synthesis_kwargs"] = synthesis
    return kwargs


@functools.cache
def _tf() -> tuple[Any, ...]:
    return tf_setup(0, 3)


def _tf_pickle(g_kwargs: dict | None = None, edit: Callable[[Any, Any, Any], None] | None = None) -> bytes:
    G, D, Gs, gk, dk = _tf()
    gk = {**gk, **(g_kwargs or {})}
    nets = (tf_generator(G, gk, "G"), tf_discriminator(D, dk), tf_generator(Gs, gk, "Gs"))
    if edit is not None:
        edit(*nets)
    return dumps(nets, protocol=3).replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


@functools.cache
def _tiny_snapshot_networks() -> tuple[Generator, Discriminator]:
    g, d = network_configs("paper256", 16)
    g = type(g).from_dict({**g.to_dict(), "channel_base": 512, "channel_max": 32, "z_dim": 32, "w_dim": 32})
    d = type(d).from_dict({**d.to_dict(), "channel_base": 512, "channel_max": 32, "mbstd_group_size": 2})
    return Generator(g).eval(), Discriminator(d).eval()


@functools.cache
def _snapshot_bytes() -> bytes:
    import tempfile

    G, D = _tiny_snapshot_networks()
    with tempfile.TemporaryDirectory() as tmp:
        return save_snapshot(Path(tmp) / "s.safetensors", {"G_ema": G, "D": D}, {"kimg": 1}).read_bytes()


def _split(raw: bytes) -> tuple[dict[str, Any], bytes]:
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def _join(header: dict[str, Any], data: bytes) -> bytes:
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data


def _edit_header(edit: Callable[[dict[str, Any]], None]) -> bytes:
    header, data = _split(_snapshot_bytes())
    edit(header)
    return _join(header, data)


def _edit_config(network: str, edit: Callable[[dict[str, Any]], None]) -> bytes:
    def change(header: dict[str, Any]) -> None:
        networks = json.loads(header["__metadata__"]["networks"])
        edit(networks[network])
        header["__metadata__"]["networks"] = json.dumps(networks)

    return _edit_header(change)


def _snapshot_from(tensors: dict[str, torch.Tensor], networks: dict[str, Any], folder: Path, name: str) -> Path:
    meta = {"format": "stylegan2_ada.snapshot/1", "networks": json.dumps(networks), "metadata": "{}"}
    path = folder / name
    save_file(tensors, str(path), metadata=meta)
    return path


def _snapshot_parts() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    G, D = _tiny_snapshot_networks()
    tensors = {f"G_ema.{k}": v.detach().clone().contiguous() for k, v in G.state_dict().items()}
    tensors.update({f"D.{k}": v.detach().clone().contiguous() for k, v in D.state_dict().items()})
    networks = {
        "G_ema": {"class": "GeneratorConfig", **G.cfg.to_dict()},
        "D": {"class": "DiscriminatorConfig", **D.cfg.to_dict()},
    }
    return tensors, networks


# --- code-execution payloads -----------------------------------------------------------------------


class _Reduce:
    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.func, self.args)


def _payload(name: str, expect: str, make: Callable[[str], bytes]) -> None:
    case(name, "pickle", expect)(lambda folder, marker: _write(folder, f"{name}.pkl", make(marker)))


_payload("exec-os-system-global-reduce", r"asks for `os\.system`", lambda m: f"cos\nsystem\n(Vtouch {m}\ntR.".encode())
_payload("exec-os-system-inst", r"asks for `os\.system`", lambda m: f"(Vtouch {m}\nios\nsystem\n.".encode())
_payload(
    "exec-posix-system-stack-global",
    r"`posix\.system`",
    lambda m: pickle.dumps(_Reduce(os.system, f"touch {m}"), protocol=4),
)
_payload("exec-builtins-eval", r"`builtins\.eval`", lambda m: pickle.dumps(_Reduce(eval, f"open({m!r}, 'w')")))
_payload(
    "exec-builtins-exec-protocol2",
    r"`builtins\.exec`",
    lambda m: pickle.dumps(_Reduce(exec, f"open({m!r}, 'w')"), protocol=2),
)
_payload(
    "exec-subprocess-popen", r"`subprocess\.Popen`", lambda m: pickle.dumps(_Reduce(subprocess.Popen, ["touch", m]))
)
_payload("exec-builtins-getattr", r"`builtins\.getattr`", lambda m: pickle.dumps(_Reduce(getattr, {}, "clear")))
_payload("exec-torch-load", r"`torch\.load`", lambda m: f"ctorch\nload\n(V{m}\ntR.".encode())
_payload(
    "exec-python2-builtin-eval", r"`builtins\.eval`", lambda m: f"c__builtin__\neval\n(Vopen({m!r}, 'w')\ntR.".encode()
)


@case("exec-payload-inside-network-metadata", "pickle", r"`builtins\.exec`")
def _(folder: Path, marker: str) -> Path:
    G, D, G_ema = _port()
    payload = _Reduce(exec, f"open({marker!r}, 'w')")
    return _write(folder, "meta-payload.pkl", torch_port_pickle(G, D, G_ema, "", extra={"progress": {"note": payload}}))


def _storage_stream(inner_body: bytes) -> bytes:
    header = pickle.dumps(0x1950A86A20F9469CFC6C, 2) + pickle.dumps(1001, 2) + pickle.dumps({"little_endian": True}, 2)
    inner = header + inner_body
    return b"\x80\x04ctorch.storage\n_load_from_bytes\nB" + len(inner).to_bytes(4, "little") + inner + b"\x85R."


_payload(
    "exec-payload-inside-tensor-storage",
    r"`os\.system`",
    lambda m: _storage_stream(f"cos\nsystem\n(Vtouch {m}\ntR.".encode()),
)
_payload(
    "storage-with-huge-inner-length",
    r"declares|BINBYTES8",
    lambda m: _storage_stream(b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little") + b"."),
)


@case("exec-copyreg-reconstructor-foreign-class", "pickle", r"unexpected class|asks for")
def _(folder: Path, marker: str) -> Path:
    raw = b"\x80\x02ccopyreg\n_reconstructor\ncos\n_wrap_close\ncbuiltins\nobject\nN\x87R."
    return _write(folder, "reconstructor.pkl", raw)


# --- lengths, counts, nesting ------------------------------------------------------------------------

_HUGE = (1 << 40).to_bytes(8, "little")
for _name, _raw in {
    "length-binbytes8-2**40": b"\x80\x04\x8e" + _HUGE + b"xyz.",
    "length-binunicode8-2**40": b"\x80\x04\x8d" + _HUGE + b"xyz.",
    "length-bytearray8-2**40": b"\x80\x05\x96" + _HUGE + b"xyz.",
    "length-frame-2**40": b"\x80\x04\x95" + _HUGE + b"N.",
    "length-long4-2**31": b"\x80\x04\x8b" + (2**31 - 1).to_bytes(4, "little") + b"\x01.",
    "length-binunicode-2**32": b"\x80\x04X" + (2**32 - 1).to_bytes(4, "little") + b"abc.",
    "length-cut-inside-length-field": b"\x80\x04\x8e\x01\x02",
}.items():
    case(_name, "pickle", r"not a readable network pickle")(
        functools.partial(lambda raw, n, folder, marker: _write(folder, f"{n}.pkl", raw), _raw, _name)
    )


@case("nesting-deep-tuple-as-dict-key", "pickle", r"dict key")
def _(folder: Path, marker: str) -> Path:
    # Hashing this key would overflow the C stack (a segfault) in the stock unpickler.
    return _write(folder, "deep-key.pkl", b"\x80\x04})" + b"\x85" * 1_000_000 + b"K\x01s.")


@case("nesting-deep-list", "pickle", r"nested deeper than 100")
def _(folder: Path, marker: str) -> Path:
    return _write(folder, "deep-list.pkl", b"\x80\x04" + b"]" * 200_000 + b"a" * 199_999 + b".")


@case("nesting-reference-cycle-in-metadata", "pickle", r"reference cycle")
def _(folder: Path, marker: str) -> Path:
    loop: list[Any] = []
    loop.append(loop)
    return _write(folder, "cycle.pkl", _port_pickle(extra={"training_set_kwargs": loop}))


@case("nesting-billion-laughs-in-metadata", "pickle", r"billion laughs")
def _(folder: Path, marker: str) -> Path:
    lol: Any = ["lol"]
    for _ in range(30):
        lol = [lol] * 10
    return _write(folder, "laughs.pkl", _port_pickle(extra={"training_set_kwargs": lol}))


@case("nesting-deep-module-tree", "pickle", r"nested deeper than 100")
def _(folder: Path, marker: str) -> Path:
    G, _, _ = _port()
    child = persistent_module(torch.nn.Identity(), "Leaf", "", {})
    for _ in range(40):  # each module level is three levels of data (object, state, _modules)
        parent = persistent_module(torch.nn.Identity(), "Wrapper", "", {})
        parent.meta["state"]["_modules"] = {"next": child}
        child = parent
    data = {"G": persistent_module(G, "Generator", "", generator_init_kwargs(G.cfg)), "junk": child}
    return _write(folder, "deep-modules.pkl", dumps(data, protocol=4))


@case("count-opcode-flood", "pickle", r"more than 2,000,000 instructions")
def _(folder: Path, marker: str) -> Path:
    return _write(folder, "flood.pkl", b"\x80\x04](" + b"}" * 3_000_000 + b"e.")


@case("count-one-storage-reused-2000-times", "pickle", r"more tensor data than the file holds")
def _(folder: Path, marker: str) -> Path:
    raw = pickle.dumps(torch.zeros(250_000))  # one 1 MB storage
    inner = next(arg for op, arg, _ in pickletools.genops(raw) if op.name in ("BINBYTES", "BINBYTES8"))
    head = b"\x80\x04](ctorch.storage\n_load_from_bytes\n\x94B" + len(inner).to_bytes(4, "little") + inner + b"\x94"
    return _write(folder, "reuse.pkl", head + b"h\x00h\x01\x85R" * 2000 + b"e.")


# --- network pickles of NVIDIA's PyTorch port with bad options or weights --------------------------

for _name, _kwargs, _expect in (
    ("port-w_dim-16384", {"w_dim": 16384}, r"w_dim=16384 is invalid: expected an integer in 1\.\.4096"),
    ("port-resolution-2**20", {"img_resolution": 2**20}, r"img_resolution=1048576 is invalid: expected a power of two in 4\.\.4096"),
    ("port-resolution-16384", {"img_resolution": 16384}, r"img_resolution=16384 is invalid"),
    ("port-resolution-not-power-of-two", {"img_resolution": 1000}, r"img_resolution=1000 is invalid"),
    ("port-channel_base-1e9-float", {"channel_base": 1e9}, r"channel_base=1000000000\.0 is invalid: expected an integer"),
    ("port-channel_max-10**9", {"channel_max": 10**9}, r"channel_max=1000000000 is invalid: expected an integer in 1\.\.2048"),
    ("port-bool-as-z_dim", {"z_dim": True}, r"z_dim=True is invalid: .*true/false is not a number"),
    ("port-nan-conv_clamp", {"conv_clamp": float("nan")}, r"conv_clamp=nan is invalid: expected a finite number"),
    ("port-string-w_dim", {"w_dim": "512"}, r"w_dim='512' is invalid"),
    ("port-negative-img_channels", {"img_channels": -3}, r"img_channels=-3 is invalid: expected an integer in 1\.\.4"),
    ("port-unknown-synthesis-option", {"bogus_option": 1}, r"unknown generator options \['bogus_option'\]"),
    ("port-mapping_kwargs-a-list", {"mapping_kwargs": [1, 2]}, r"mapping_kwargs in this pickle is not a set of named options \(found a list\)"),
    ("port-config-far-larger-than-file", {"img_resolution": 1024, "channel_base": 32768, "channel_max": 512, "w_dim": 512, "z_dim": 512},
     r"describe [\d,]+ weights .* but the file holds"),
):  # fmt: skip
    case(_name, "pickle", _expect)(
        functools.partial(
            lambda kw, n, folder, marker: _write(folder, f"{n}.pkl", _port_pickle(g_kwargs=_g_kwargs(**kw))),
            _kwargs,
            _name,
        )
    )


@case(
    "port-init_kwargs-a-tensor",
    "pickle",
    r"init_kwargs of Generator in this pickle is not a set of named options \(found a Tensor\)",
)
def _(folder: Path, marker: str) -> Path:
    return _write(folder, "kwargs-tensor.pkl", _port_pickle(g_kwargs=torch.zeros(3)))


@case(
    "port-weights-of-another-shape",
    "pickle",
    r"G: the weights do not match the architecture .*wrong shape",
    command="convert",
)
def _(folder: Path, marker: str) -> Path:
    G, _, _ = _port()
    other = Generator(type(G.cfg).from_dict({**G.cfg.to_dict(), "w_dim": 48}))
    return _write(folder, "shape.pkl", _port_pickle(g_state=other))


@case("port-integer-weights", "pickle", r"holds torch\.int64 values, not floating-point weights")
def _(folder: Path, marker: str) -> Path:
    G, _, _ = _port()
    bad = copy.deepcopy(G)
    bad.synthesis.b4.const = torch.nn.Parameter(
        torch.zeros(bad.synthesis.b4.const.shape, dtype=torch.int64), requires_grad=False
    )
    return _write(folder, "int-weights.pkl", _port_pickle(g_state=bad))


@case("port-mbstd-channels-not-dividing", "pickle", r"mbstd_num_channels=3 does not divide")
def _(folder: Path, marker: str) -> Path:
    d_kwargs = discriminator_init_kwargs(_port()[1].cfg)
    d_kwargs["epilogue_kwargs"] = EasyDict(mbstd_group_size=2, mbstd_num_channels=3)
    return _write(folder, "mbstd.pkl", _port_pickle(d_kwargs=d_kwargs))


@case("port-stylegan3-network", "pickle", r"StyleGAN3 \(alias-free")
def _(folder: Path, marker: str) -> Path:
    return _write(folder, "sg3.pkl", _port_pickle(module_src="class SynthesisInput(torch.nn.Module): pass\n"))


@case("port-not-a-network-dict", "pickle", r"not a StyleGAN2 network pickle")
def _(folder: Path, marker: str) -> Path:
    return _write(folder, "plain.pkl", pickle.dumps({"weights": np.zeros(3, np.float32)}))


for _cut in (1, 2, 3, 50, 1000, "1/4", "1/2", "3/4", -2, -1):

    def _truncated(folder: Path, marker: str, cut: Any = _cut) -> Path:
        raw = _port_bytes()
        at = len(raw) * int(cut[0]) // int(cut[2]) if isinstance(cut, str) else cut % len(raw)
        return _write(folder, f"cut-{at}.pkl", raw[:at])

    case(f"truncated-port-pickle-at-{_cut}", "pickle", r"not a readable network pickle|truncated", command="convert")(
        _truncated
    )


@case("control-port-pickle-whose-module_src-writes-a-marker", "pickle", "", control=True)
def _(folder: Path, marker: str) -> Path:
    return _write(folder, "good-port.pkl", _port_pickle(module_src=marker_source(marker)))


# --- TF pickles ------------------------------------------------------------------------------------

for _name, _kwargs, _expect in (
    ("tf-resolution-0", {"resolution": 0}, r"resolution=0 is invalid: expected a power of two"),
    ("tf-resolution-2**20", {"resolution": 2**20}, r"resolution=1048576 is invalid"),
    ("tf-dlatent_size-16384", {"dlatent_size": 16384}, r"dlatent_size=16384 is invalid: expected an integer in 1\.\.4096"),
    ("tf-fmap_base-2**40", {"fmap_base": 2**40}, r"fmap_base=1099511627776 is invalid"),
    ("tf-use_noise-an-array", {"use_noise": np.array([1, 2])}, r"use_noise=array\(\[1, 2\]\) is invalid: expected true or false"),
    ("tf-latent_size-negative", {"latent_size": -512}, r"latent_size=-512 is invalid"),
):  # fmt: skip
    case(_name, "pickle", _expect, command="convert")(
        functools.partial(lambda kw, n, folder, marker: _write(folder, f"{n}.pkl", _tf_pickle(kw)), _kwargs, _name)
    )


def _tf_edit(name: str, expect: str, edit: Callable[[Any, Any, Any], None]) -> None:
    case(name, "pickle", expect)(lambda folder, marker: _write(folder, f"{name}.pkl", _tf_pickle(edit=edit)))


def _set_var(net: Any, component: str, var: str, value: Any) -> None:
    variables = net._state["components"][component]._state["variables"]
    index = next(i for i, (n, _) in enumerate(variables) if n == var)
    variables[index] = (var, value)


_tf_edit("tf-variable-of-wrong-rank", r"wrong shape synthesis/4x4/Conv/weight \[\]",
         lambda G, D, Gs: _set_var(G, "synthesis", "4x4/Conv/weight", np.float32(1)))  # fmt: skip
_tf_edit("tf-variable-of-booleans", r"holds bool values, not numbers",
         lambda G, D, Gs: _set_var(Gs, "mapping", "Dense0/weight", np.zeros((32, 32), dtype=bool)))  # fmt: skip
_tf_edit("tf-variable-of-complex-numbers", r"numpy dtype 'c8'",
         lambda G, D, Gs: _set_var(G, "mapping", "Dense0/bias", np.zeros(32, dtype=np.complex64)))  # fmt: skip
_tf_edit("tf-version-a-string", r"malformed 'version'", lambda G, D, Gs: G._state.update(version="abc"))
_tf_edit(
    "tf-static_kwargs-a-list", r"malformed 'static_kwargs'", lambda G, D, Gs: Gs._state.update(static_kwargs=[1, 2])
)
_tf_edit(
    "tf-variables-a-number",
    r"malformed 'variables'",
    lambda G, D, Gs: G._state["components"]["mapping"]._state.update(variables=7),
)


@case("truncated-tf-pickle-at-1/2", "pickle", r"not a readable network pickle|truncated")
def _(folder: Path, marker: str) -> Path:
    raw = _tf_pickle()
    return _write(folder, "tf-cut.pkl", raw[: len(raw) // 2])


@case("control-tf-pickle-whose-build_module_src-writes-a-marker", "pickle", "", control=True)
def _(folder: Path, marker: str) -> Path:
    def edit(*nets: Any) -> None:
        for net in nets:
            net._state["build_module_src"] = marker_source(marker)

    return _write(folder, "good-tf.pkl", _tf_pickle(edit=edit))


# --- our safetensors snapshots ----------------------------------------------------------------------


def _snap(name: str, expect: str, make: Callable[[], bytes], command: str = "generate") -> None:
    case(name, "safetensors", expect, command)(lambda folder, marker: _write(folder, f"{name}.safetensors", make()))


def _config_case(name: str, expect: str, network: str, edit: Callable[[dict[str, Any]], None]) -> None:
    _snap(name, expect, lambda: _edit_config(network, edit))


def _set(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda cfg: cfg.update(changes)


def _set_mapping(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda cfg: cfg["mapping"].update(changes)


_config_case(
    "snap-w_dim-16384", r"G_ema: w_dim=16384 is invalid: expected an integer in 1\.\.4096", "G_ema", _set(w_dim=16384)
)
_config_case(
    "snap-resolution-16384",
    r"img_resolution=16384 is invalid: expected a power of two in 4\.\.4096",
    "G_ema",
    _set(img_resolution=16384),
)
_config_case("snap-resolution-2**20", r"img_resolution=1048576 is invalid", "D", _set(img_resolution=2**20))
_config_case("snap-resolution-1000", r"img_resolution=1000 is invalid", "G_ema", _set(img_resolution=1000))
_config_case("snap-resolution-negative", r"img_resolution=-16 is invalid", "G_ema", _set(img_resolution=-16))
_config_case("snap-channel_base-1e9", r"channel_base=1000000000\.0 is invalid", "G_ema", _set(channel_base=1e9))
_config_case("snap-channel_max-10**9", r"channel_max=1000000000 is invalid", "D", _set(channel_max=10**9))
_config_case(
    "snap-channel_base-below-resolution", r"channel_base=8 gives no channels at 16x16", "G_ema", _set(channel_base=8)
)
_config_case("snap-nan-conv_clamp", r"conv_clamp=nan is invalid", "G_ema", _set(conv_clamp=float("nan")))
_config_case(
    "snap-infinite-lr_multiplier",
    r"mapping\.lr_multiplier=inf is invalid",
    "G_ema",
    _set_mapping(lr_multiplier=float("inf")),
)
_config_case("snap-bool-as-z_dim", r"z_dim=True is invalid", "G_ema", _set(z_dim=True))
_config_case("snap-bool-as-c_dim", r"c_dim=False is invalid", "D", _set(c_dim=False))
_config_case("snap-negative-img_channels", r"img_channels=-1 is invalid", "G_ema", _set(img_channels=-1))
_config_case("snap-unknown-field", r"unknown config fields \['evil_field'\]", "G_ema", _set(evil_field=1))
_config_case(
    "snap-unknown-architecture",
    r"architecture='deep' is invalid: expected one of orig, skip, resnet",
    "D",
    _set(architecture="deep"),
)
_config_case(
    "snap-mapping-a-number", r"mapping is not a set of named fields \(found an int\)", "G_ema", _set(mapping=5)
)
_config_case(
    "snap-mapping-layers-10**6", r"mapping\.num_layers=1000000 is invalid", "G_ema", _set_mapping(num_layers=10**6)
)
_config_case("snap-mapping-unknown-field", r"unknown mapping config fields \['x'\]", "G_ema", _set_mapping(x=1))
_config_case(
    "snap-filter-summing-to-zero", r"resample_filter=\[1, -1\] is invalid", "G_ema", _set(resample_filter=[1, -1])
)
_config_case(
    "snap-filter-of-100000-taps", r"resample_filter=\[1, 1, .* is invalid", "G_ema", _set(resample_filter=[1] * 100_000)
)
_config_case("snap-unknown-class", r"unknown network class 'os\.system'", "G_ema", _set(**{"class": "os.system"}))
_config_case("snap-config-far-larger-than-file", r"describe [\d,]+ weights .* but the file holds", "G_ema",
             _set(img_resolution=1024, channel_base=32768, channel_max=512, w_dim=512, z_dim=512))  # fmt: skip
_config_case(
    "snap-config-of-another-shape", r"weights of G_ema do not match its config .*wrong shape", "G_ema", _set(w_dim=48)
)


def _drop_networks(header: dict[str, Any]) -> None:
    del header["__metadata__"]["networks"]


def _set_meta(key: str, value: str) -> Callable[[dict[str, Any]], None]:
    return lambda header: header["__metadata__"].update({key: value})


_snap("snap-header-without-networks", r"header has no 'networks' entry", lambda: _edit_header(_drop_networks))
_snap(
    "snap-networks-not-json",
    r"'networks' entry is not valid JSON",
    lambda: _edit_header(_set_meta("networks", "{not json")),
)
_snap(
    "snap-metadata-not-json",
    r"'metadata' entry is not valid JSON",
    lambda: _edit_header(_set_meta("metadata", "kimg=1")),
)
_snap("snap-networks-json-bomb-100000-deep", r"'networks' entry is not valid JSON \(RecursionError\)",
      lambda: _edit_header(_set_meta("networks", "[" * 100_000 + "]" * 100_000)))  # fmt: skip
_snap("snap-metadata-nested-500-deep", r"'metadata' entry holds data nested deeper than 64",
      lambda: _edit_header(_set_meta("metadata", "[" * 500 + "]" * 500)))  # fmt: skip
_snap(
    "snap-networks-a-list",
    r"'networks' entry is not 1\.\.16 named network configs",
    lambda: _edit_header(_set_meta("networks", "[1, 2]")),
)
_snap(
    "snap-network-config-a-number",
    r"G_ema: the network config is not a set of named fields \(found an int\)",
    lambda: _edit_header(_set_meta("networks", '{"G_ema": 3}')),
)
_snap("snap-network-name-a-path", r"network name '\.\./\.\./x' is not a plain name",
      lambda: _edit_header(_set_meta("networks", '{"../../x": {"class": "GeneratorConfig"}}')))  # fmt: skip
_snap(
    "snap-foreign-safetensors",
    r"without a stylegan2_ada config",
    lambda: _edit_header(lambda h: h.update(__metadata__={"x": "y"})),
)


def _header_bytes_huge() -> bytes:
    return (1 << 40).to_bytes(8, "little") + b'{"__metadata__":{}}' + b"\0" * 64


_snap(
    "snap-declared-header-2**40",
    r"declares a 1,099,511,627,776-byte header; a snapshot's is at most",
    _header_bytes_huge,
)
_snap(
    "snap-declared-header-past-the-end",
    r"declares a 5,000-byte header but has",
    lambda: (5000).to_bytes(8, "little") + b'{"a":1}',
)


def _flatten_one_tensor(header: dict[str, Any]) -> None:
    entry = header["G_ema.synthesis.b8.conv1.weight"]
    entry["shape"] = [math.prod(entry["shape"])]


def _int32_tensor(header: dict[str, Any]) -> None:
    header["G_ema.synthesis.b8.conv1.weight"]["dtype"] = "I32"


_snap(
    "snap-tensor-shape-not-the-config's",
    r"wrong shape G_ema\.synthesis|wrong shape synthesis\.b8\.conv1\.weight",
    lambda: _edit_header(_flatten_one_tensor),
    command="convert",
)
_snap("snap-tensor-of-int32", r"holds I32 values; weights are F32", lambda: _edit_header(_int32_tensor))


@case("snap-tensor-of-no-network", "safetensors", r"tensor 'X\.payload'|tensor X\.payload belongs to no network")
def _(folder: Path, marker: str) -> Path:
    tensors, networks = _snapshot_parts()
    tensors["X.payload"] = torch.zeros(4)
    return _snapshot_from(tensors, networks, folder, "extra-tensor.safetensors")


@case("snap-missing-tensor", "safetensors", r"weights of D do not match its config \(missing b4\.out\.weight")
def _(folder: Path, marker: str) -> Path:
    tensors, networks = _snapshot_parts()
    del tensors["D.b4.out.weight"]
    return _snapshot_from(tensors, networks, folder, "missing-tensor.safetensors")


for _cut in (4, 8, 20, "mid-header", "header-end", "mid-data", -1):

    def _cut_snapshot(folder: Path, marker: str, cut: Any = _cut) -> Path:
        raw = _snapshot_bytes()
        n = int.from_bytes(raw[:8], "little")
        at = {"mid-header": 8 + n // 2, "header-end": 8 + n, "mid-data": (8 + n + len(raw)) // 2}.get(cut, cut)
        return _write(folder, f"cut-{cut}.safetensors", raw[: at % len(raw) if at != len(raw) else at])

    case(f"truncated-snapshot-at-{_cut}", "safetensors", r"not a readable safetensors file|of an unknown kind|not a readable network pickle",
         command="convert")(_cut_snapshot)  # fmt: skip


@case("control-snapshot", "safetensors", "", control=True)
def _(folder: Path, marker: str) -> Path:
    return _write(folder, "good.safetensors", _snapshot_bytes())


# --- files that are something else -------------------------------------------------------------------


def _image_bytes(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, fmt)
    return out.getvalue()


def _other(name: str, filename: str, expect: str, make: Callable[[], bytes]) -> None:
    case(name, "other", expect)(lambda folder, marker: _write(folder, filename, make()))


_other(
    "jpeg-renamed-safetensors",
    "photo.safetensors",
    r"a JPEG image, not a network file; expected one of our \.safetensors",
    lambda: _image_bytes("JPEG"),
)
_other("png-renamed-safetensors", "photo2.safetensors", r"a PNG image, not a network file", lambda: _image_bytes("PNG"))
_other(
    "gzip-renamed-pkl",
    "net.pkl.gz.pkl",
    r"a gzip-compressed file \(unpack it first\), not a network file",
    lambda: gzip.compress(_port_bytes()[:4096]),
)
_other(
    "html-page-renamed-pkl",
    "download.pkl",
    r"an HTML page",
    lambda: b"<!DOCTYPE html><html><body>Access denied</body></html>\n",
)
_other(
    "json-sidecar",
    "snap.json",
    r"a JSON file \(for a snapshot, pass the \.safetensors",
    lambda: b'{"format": "stylegan2_ada.snapshot/1"}\n',
)
_other("empty-pkl", "empty.pkl", r"an empty file", lambda: b"")
_other("empty-safetensors", "empty.safetensors", r"an empty file", lambda: b"")
_other(
    "git-lfs-pointer",
    "lfs.pkl",
    r"a Git LFS pointer",
    lambda: b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n",
)
_other(
    "random-bytes",
    "random.pkl",
    r"a file of an unknown kind \(it starts with bytes",
    lambda: bytes(range(200, 256)) * 10,
)
_other(
    "text-file",
    "notes.pkl",
    r"not a readable network pickle .*it starts like text: 'this is not a pickle",
    lambda: b"this is not a pickle\n",
)


@case("zip-of-images-renamed-pkl", "other", r"a zip of images")
def _(folder: Path, marker: str) -> Path:
    path = folder / "dataset.pkl"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("img00000000.png", _image_bytes("PNG"))
        z.writestr("dataset.json", "{}")
    return path


@case("torch-save-archive-renamed-pkl", "other", r"a torch\.save/zip archive, not an NVIDIA network pickle")
def _(folder: Path, marker: str) -> Path:
    path = folder / "model.pkl"
    torch.save({"w": torch.zeros(2)}, path)
    return path


@case("a-folder", "other", r"a folder, not a network file; expected")
def _(folder: Path, marker: str) -> Path:
    path = folder / "a-folder"
    path.mkdir()
    return path


@case(
    "a-folder-of-snapshots",
    "other",
    r"a folder, not a network file \(it holds network-snapshot-000004\.safetensors: pass one of them\)",
)
def _(folder: Path, marker: str) -> Path:
    path = folder / "run"
    path.mkdir()
    (path / "network-snapshot-000004.safetensors").write_bytes(_snapshot_bytes())
    return path


def write_corpus(root: Path) -> dict[str, Any]:
    """Builds every case under root/files; returns the manifest the worker runs."""
    files, markers, outputs = root / "files", root / "markers", root / "out"
    for folder in (files, markers, outputs):
        folder.mkdir(parents=True, exist_ok=True)
    manifest = []
    for c in CASES:
        marker = str(markers / c.name)
        network = c.build(files, marker)
        out = outputs / c.name
        if c.command == "generate":
            argv = ["generate", f"--network={network}", "--seeds=0", f"--outdir={out}", "--device=cpu"]
        else:
            argv = ["convert", f"--network={network}", f"--dest={out / 'converted.safetensors'}"]
        manifest.append({"name": c.name, "argv": argv, "marker": marker, "out": str(out)})
    return {"marker_dir": str(markers), "cases": manifest}
