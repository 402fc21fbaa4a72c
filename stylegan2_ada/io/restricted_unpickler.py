"""Reads NVIDIA network pickles as plain data, without running any code from the file.

A network pickle of the PyTorch port asks the loader to call
`torch_utils.persistence._reconstruct_persistent_obj(meta)`, which executes `meta['module_src']` (a whole
Python module shipped inside the pickle). TensorFlow pickles do the same through
`dnnlib.tflib.network.Network.__setstate__`. Here both are replaced by inert stubs that only record
their data, and every other global the pickle names must be on a short allowlist of data constructors
(tensors, numpy arrays, dicts). Anything else (`os.system`, `builtins.eval`, ...) is refused when its
name is read, before the pickle could call it, so a refused file has no side effects. The small
torch.save streams that carry each tensor's bytes are parsed here as well, never by torch.load.
Everything runs under the bounds of data_limits.py (read lengths, bytes materialised, opcodes, safe dict
keys, nesting), so a crafted file ends in a UserError, never in MemoryError, RecursionError or a crash.

The pure-Python unpickler is used (not the C one) so that BUILD, the opcode that sets attributes on
objects, can be limited to the few types that need it; pickle files of networks have a few thousand
opcodes, so the speed difference does not matter next to reading the tensor bytes.
"""

from __future__ import annotations

import _compat_pickle
import codecs
import collections
import functools
import io
import itertools
import math
import pickle
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import numpy as np
import torch

from ..errors import UserError
from .data_limits import HardenedUnpickler, LoadLimits, UnsafePickleError, checked_key, nesting_problem

__all__ = ["EasyDict", "PersistentObject", "PickleFormatError", "TFNetwork", "UnsafePickleError", "load_pickle"]

_MAX_ELEMENTS = 1 << 40  # no tensor or array of a network comes near this many elements


class PickleFormatError(UserError):
    """The file is not a readable pickle (truncated, garbled, or another kind of file)."""


class EasyDict(dict):
    """Stands in for dnnlib.util.EasyDict: a dict whose keys can also be read as attributes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The pickle fills it with SETITEMS; a call with other data would hash keys unchecked.
        if args or kwargs:
            raise UnsafePickleError("this pickle builds an EasyDict from arguments; network pickles never do")
        super().__init__()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # protocol lookups (__setstate__, ...) never reach the data
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class PersistentObject:
    """What `torch_utils.persistence` pickled for one module: its class name, its source (kept as an
    inert string, never executed) and its state (the module's __dict__)."""

    class_name: str
    module_src: str
    state: dict[str, Any]
    version: int | None = None


class TFNetwork:
    """Stands in for dnnlib.tflib.network.Network: keeps the pickled state dict, runs nothing."""

    state: dict[str, Any]

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise UnsafePickleError("a TensorFlow Network in this pickle has a non-dict state; not a network pickle")
        self.state = state

    def _get(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        value = getattr(self, "state", {}).get(key, default)
        if value is None:
            return default
        if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
            raise UserError(f"a TensorFlow network in this pickle has a malformed {key!r} ({type(value).__name__})")
        return value

    @property
    def name(self) -> str:
        return self._get("name", str, "")

    @property
    def version(self) -> int:
        return self._get("version", int, 0)

    @property
    def static_kwargs(self) -> dict[str, Any]:
        kwargs = dict(self._get("static_kwargs", dict, {}))
        if not all(type(k) is str for k in kwargs):
            raise UserError(f"TF network {self.name[:40]!r} has static_kwargs that are not named")
        return kwargs

    @property
    def components(self) -> dict[str, TFNetwork]:
        return dict(self._get("components", dict, {}))

    @property
    def variables(self) -> list[tuple[str, np.ndarray]]:
        return list(self._get("variables", (list, tuple), []))

    @property
    def build_func_name(self) -> str:
        return self._get("build_func_name", str, "")


def _reconstruct_persistent_obj(meta: Any) -> PersistentObject:
    """Replaces torch_utils.persistence._reconstruct_persistent_obj: records, never executes module_src."""
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise UnsafePickleError("a persistent object in this pickle has unexpected metadata; not a network pickle")
    state = meta.get("state")
    if state is None:
        state = {}
    if not isinstance(state, dict) or not isinstance(meta.get("class_name"), str):
        raise UnsafePickleError("a persistent object in this pickle has no class name or state; not a network pickle")
    module_src = meta.get("module_src", "")
    if not isinstance(module_src, str):
        raise UnsafePickleError("a persistent object in this pickle has non-text module source; not a network pickle")
    return PersistentObject(
        class_name=meta["class_name"],
        module_src=module_src,
        state=state,
        version=meta.get("version"),
    )


# --- tensors (plain pickle.dump of torch tensors) -----------------------------------------------------
# pickle.dump of a tensor calls torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...) where
# the storage is torch.storage._load_from_bytes(b) and b is a legacy torch.save stream of that storage:
# pickled magic number, protocol version and sys_info; a pickle whose only content is a persistent id
# ('storage', torch.<Type>Storage, key, location, numel, view_metadata); the pickled list of keys; then
# per key an int64 element count and the raw little-endian bytes. It is parsed here, not by torch.load,
# so no unpickler other than ours ever sees the file (torch's weights-only loader had bypasses in the
# torch versions we support).

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


@dataclass
class _StorageType:
    dtype: torch.dtype


@dataclass
class FlatStorage:
    """The elements of one storage as a 1-D tensor (filled in once the raw bytes are read)."""

    dtype: torch.dtype
    numel: int
    data: torch.Tensor | None = None


class _NoGlobalsUnpickler(HardenedUnpickler):
    """For the small header pickles of a storage stream: plain data only."""

    def find_class(self, module: str, name: str) -> Any:
        raise UnsafePickleError(
            f"refused to load: a tensor storage in the pickle asks for `{module}.{name}` (nothing was executed)"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("refused to load: unexpected persistent id in a tensor storage")


class _StorageUnpickler(_NoGlobalsUnpickler):
    def __init__(self, file: BinaryIO, storages: dict[str, FlatStorage], limits: LoadLimits) -> None:
        super().__init__(file, limits)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise UnsafePickleError("refused to load: malformed tensor storage reference")
        storage_type, key, _location, numel = pid[1:5]
        view = pid[5] if len(pid) == 6 else None
        if not isinstance(storage_type, _StorageType) or not isinstance(key, str) or not _is_count(numel):
            raise UnsafePickleError("refused to load: malformed tensor storage reference")
        if view is not None:
            raise UnsafePickleError("refused to load: storage views (pre-1.0 torch pickles) are not supported")
        return self.storages.setdefault(key, FlatStorage(storage_type.dtype, numel))


def _is_count(value: Any) -> bool:
    return type(value) is int and 0 <= value <= _MAX_ELEMENTS


def _load_storage_from_bytes(data: Any, limits: LoadLimits) -> FlatStorage:
    if not isinstance(data, (bytes, bytearray)):
        raise UnsafePickleError("a tensor storage in this pickle is not raw bytes; not a network pickle")
    f = io.BytesIO(data)

    def header() -> Any:
        return _NoGlobalsUnpickler(f, limits).load()

    if header() != _LEGACY_MAGIC or header() != _LEGACY_PROTOCOL:
        raise UnsafePickleError("a tensor storage in this pickle has an unknown format")
    sys_info = header()
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", True):
        raise UserError("this pickle was written on a big-endian machine; not supported")
    storages: dict[str, FlatStorage] = {}
    result = _StorageUnpickler(f, storages, limits).load()
    keys = header()
    if not isinstance(result, FlatStorage) or not isinstance(keys, list):
        raise UnsafePickleError("a tensor storage in this pickle has an unknown layout")
    for key in keys:
        storage = storages.get(key) if isinstance(key, str) else None
        if storage is None or storage.data is not None:
            raise UnsafePickleError("a tensor storage in this pickle lists an unknown or repeated key")
        numel = int.from_bytes(f.read(8), "little", signed=True)
        itemsize = torch.empty((), dtype=storage.dtype).element_size()
        if numel < 0 or numel != storage.numel or numel * itemsize > len(data) - f.tell():
            raise UnsafePickleError("a tensor storage in this pickle is truncated or inconsistent")
        limits.spend_bytes(numel * itemsize, "tensor")
        raw = f.read(numel * itemsize)
        storage.data = torch.frombuffer(bytearray(raw), dtype=storage.dtype) if numel else torch.empty(0, dtype=storage.dtype)
    if result.data is None:
        raise UnsafePickleError("a tensor storage in this pickle has no data")
    return result


def _is_int_tuple(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and len(value) <= 32 and all(_is_count(v) for v in value)


def _rebuild_tensor(
    storage: Any,
    storage_offset: Any,
    size: Any,
    stride: Any,
    requires_grad: Any = False,
    backward_hooks: Any = None,
    metadata: Any = None,
) -> torch.Tensor:
    if not isinstance(storage, FlatStorage) or storage.data is None or not _is_count(storage_offset):
        raise UnsafePickleError("a tensor in this pickle does not come from a plain storage")
    if not _is_int_tuple(size) or not _is_int_tuple(stride) or len(size) != len(stride):
        raise UnsafePickleError("a tensor in this pickle has a malformed shape")
    if backward_hooks:
        raise UnsafePickleError("a tensor in this pickle carries backward hooks (callables)")
    try:
        return storage.data.as_strided(tuple(size), tuple(stride), storage_offset)  # bounds-checked by torch
    except RuntimeError as exc:
        raise UnsafePickleError(f"a tensor in this pickle does not fit its storage ({exc})") from exc


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None, *state: Any) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise UnsafePickleError("a parameter in this pickle does not wrap a tensor")
    if backward_hooks:
        raise UnsafePickleError("a parameter in this pickle carries backward hooks (callables)")
    return data  # only the values matter; the networks are rebuilt as our own modules


# --- numpy arrays and scalars ----------------------------------------------------------------------


def _checked_dtype(value: Any) -> np.dtype:
    if not isinstance(value, np.dtype) or value.hasobject:
        raise UnsafePickleError("this pickle holds a numpy array of Python objects; a network pickle never does")
    return value


_PLAIN_DTYPE = re.compile(r"b1|[iu][1248]|f[248]")  # what numpy pickles a number dtype as ('f4', 'i8', ...)


def _make_dtype(spec: Any, align: Any = False, copy: Any = False) -> np.dtype:
    if not isinstance(spec, str) or not _PLAIN_DTYPE.fullmatch(spec):
        raise UnsafePickleError(f"this pickle builds a numpy dtype {spec!r:.40}; network arrays hold plain numbers, never Python objects")
    return _checked_dtype(np.dtype(spec, bool(align), bool(copy)))


class _NdarrayName:
    """What the pickle gets for `numpy.ndarray`: a name to pass to _reconstruct, not a constructor."""


_NDARRAY = _NdarrayName()


def _reconstruct_ndarray(subtype: Any, shape: Any, dtype_code: Any) -> np.ndarray:
    # numpy pickles an array as _reconstruct(ndarray, (0,), b'b') followed by BUILD with the data.
    if subtype is not _NDARRAY:
        raise UnsafePickleError("this pickle builds a numpy array of an unexpected subtype")
    return np.ndarray.__new__(np.ndarray, (0,), "b")


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    dtype = _checked_dtype(dtype)
    if not isinstance(data, (bytes, bytearray)) or len(data) != dtype.itemsize:
        raise UnsafePickleError("a numpy scalar in this pickle has malformed data")
    return np.frombuffer(bytes(data), dtype=dtype, count=1)[0]


def _numpy_frombuffer(buf: Any, dtype: Any, shape: Any, order: Any = "C", *, limits: LoadLimits) -> np.ndarray:
    dtype = _checked_dtype(dtype)
    if not isinstance(buf, (bytes, bytearray)) or not _is_int_tuple(shape) or type(order) is not str or order not in "CF":
        raise UnsafePickleError("a numpy array in this pickle has malformed data")
    if math.prod(shape) * dtype.itemsize != len(buf):
        raise UnsafePickleError("a numpy array in this pickle does not match its data")
    limits.spend_bytes(len(buf), "array")
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order).copy()


def _codecs_encode(text: Any, encoding: Any = "utf-8", *, limits: LoadLimits) -> bytes:
    # Protocol-2 pickles store bytes as _codecs.encode(str, 'latin1').
    if not isinstance(text, str) or type(encoding) is not str or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError("this pickle calls _codecs.encode with unexpected arguments")
    limits.spend_bytes(len(text), "byte")
    return codecs.encode(text, "latin1")


def _make_set(items: Any = ()) -> set:
    if not isinstance(items, (list, tuple)):
        raise UnsafePickleError("this pickle builds a set from something other than a list")
    return {checked_key(item) for item in items}


def _make_frozenset(items: Any = ()) -> frozenset:
    return frozenset(_make_set(items))


def _make_ordered_dict(items: Any = ()) -> collections.OrderedDict:
    # Pickled as OrderedDict() followed by SETITEMS; pairs given here are checked like those.
    if not isinstance(items, (list, tuple)) or not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in items):
        raise UnsafePickleError("this pickle builds an OrderedDict from unexpected arguments")
    return collections.OrderedDict((checked_key(k), v) for k, v in items)


_STUB_CLASSES = (EasyDict, TFNetwork)


def _copyreg_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    # Protocol 0/1 pickles create class instances through copyreg._reconstructor.
    if cls not in _STUB_CLASSES or base not in (object, dict):
        raise UnsafePickleError("this pickle reconstructs an object of an unexpected class")
    obj = cls.__new__(cls)
    if state is not None:
        if base is not dict or not isinstance(state, dict):
            raise UnsafePickleError("this pickle reconstructs an object with unexpected state")
        obj.update(state)
    return obj


# (module, name) -> what the pickle gets instead. Nothing here runs code taken from the file.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.tflib.network", "Network"): TFNetwork,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("collections", "OrderedDict"): _make_ordered_dict,
    ("builtins", "set"): _make_set,
    ("builtins", "frozenset"): _make_frozenset,
    ("copyreg", "_reconstructor"): _copyreg_reconstructor,
    ("_codecs", "encode"): _codecs_encode,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage_from_bytes,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _make_dtype,
}
for _np_core in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_np_core}.multiarray", "_reconstruct")] = _reconstruct_ndarray
    _ALLOWED[(f"{_np_core}.multiarray", "scalar")] = _numpy_scalar
    _ALLOWED[(f"{_np_core}.numeric", "_frombuffer")] = _numpy_frombuffer

# Those that spend this load's byte budget (bound to it when the pickle names them).
_BUDGETED = (_load_storage_from_bytes, _numpy_frombuffer, _codecs_encode)

def _plain_dtype_state(state: Any) -> bool:
    # (version, byte order, subarray, names, fields, ...): only plain number dtypes.
    return (
        isinstance(state, tuple)
        and len(state) >= 5
        and isinstance(state[1], str)
        and state[1] in "<>|="
        and state[2:5] == (None, None, None)
    )


# Objects the pickle may set state on (BUILD). numpy arrays and dtypes restore themselves through
# their own __setstate__, the stubs keep what they are given; classes and functions are never targets.
_BUILD_TARGETS = (np.ndarray, np.dtype, TFNetwork, EasyDict, collections.OrderedDict)


# What pickles written by io/nvidia_export.py name besides tensors: refused like any other call, with a hint.
_EXPORT_GLOBALS = {("builtins", "getattr"), ("operator", "getitem"), ("functools", "partial")}


class RestrictedUnpickler(HardenedUnpickler):
    """Unpickler that resolves only allowlisted globals and never runs code embedded in the file."""

    dispatch: ClassVar[dict[int, Any]] = dict(HardenedUnpickler.dispatch)

    def find_class(self, module: str, name: str) -> Any:
        if self.proto < 3:  # Python 2 names (protocol 0-2 pickles), e.g. __builtin__.set
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        allowed = _ALLOWED.get((module, name))
        if allowed is None and ((module, name) in _EXPORT_GLOBALS or module.startswith("training.")):
            raise UnsafePickleError(
                f"refused to load: the pickle asks for `{module}.{name}` (nothing was executed); if it is a pickle "
                "written for NVIDIA's code by `stylegan2-ada convert --dest=X.pkl` or `train --nvidia-pkl`, load "
                "the .safetensors it was made from instead"
            )
        if allowed is None:
            raise UnsafePickleError(
                f"refused to load: the pickle asks for `{module}.{name}`, which a network pickle never needs "
                "(nothing was executed); the file is not a StyleGAN network pickle or has been tampered with"
            )
        if allowed in _BUDGETED:
            return functools.partial(allowed, limits=self.limits)
        return allowed

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(
            "refused to load: the pickle uses persistent ids (a torch.save archive?); NVIDIA network pickles "
            "are plain pickle files: pass the original .pkl"
        )

    def load_build(self) -> None:
        state = self.stack[-1]
        inst = self.stack[-2]
        if not isinstance(inst, _BUILD_TARGETS) or isinstance(inst, type):
            raise UnsafePickleError(
                f"refused to load: the pickle sets state on a `{type(inst).__name__}` object, which a network "
                "pickle never does (nothing was executed)"
            )
        if isinstance(inst, np.ndarray):
            # (version, shape, dtype, is_fortran, raw bytes): refuse object arrays (they hold pickled objects).
            if not isinstance(state, tuple) or len(state) != 5 or not _is_int_tuple(state[1]):
                raise UnsafePickleError("a numpy array in this pickle has malformed state")
            dtype = _checked_dtype(state[2])
            if not isinstance(state[4], (bytes, bytearray)) or len(state[4]) != math.prod(state[1]) * dtype.itemsize:
                raise UnsafePickleError("a numpy array in this pickle has non-raw or mis-sized data")
            self.limits.spend_bytes(len(state[4]), "array")
        elif isinstance(inst, np.dtype) and not _plain_dtype_state(state):
            raise UnsafePickleError("a numpy dtype in this pickle has unexpected state")
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build


# What a truncated or garbled (not malicious) file raises inside the unpickler.
_MALFORMED = (
    pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, RuntimeError,
    OverflowError, struct.error, RecursionError, MemoryError,
)  # fmt: skip


def _children(obj: Any) -> Any:
    """What the nesting check walks: containers and the stubs' state (None: a leaf)."""
    if isinstance(obj, (PersistentObject, TFNetwork)):
        state = obj.state if hasattr(obj, "state") else None
        return (state,) if state is not None else None
    if isinstance(obj, dict):
        return list(itertools.chain.from_iterable(obj.items())) or None
    if isinstance(obj, (list, tuple, set, frozenset)):
        return obj or None
    return None


def load_pickle(source: str | Path | BinaryIO) -> Any:
    """Unpickles a network pickle (path or binary file) with the restricted unpickler."""
    if isinstance(source, (str, Path)):
        with open(source, "rb") as f:
            return load_pickle(f)
    name = getattr(source, "name", "the file")
    try:
        data = RestrictedUnpickler(source).load()
    except UserError:
        raise
    except _MALFORMED as exc:
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise PickleFormatError(f"{name}: not a readable network pickle ({type(exc).__name__}: {detail})") from None
    problem = nesting_problem(data, _children)
    if problem:
        raise UnsafePickleError(f"refused to load: the pickle holds {problem}; network pickles are small trees")
    return data
