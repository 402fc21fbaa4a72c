"""Bounds on what an untrusted pickle or JSON header may ask of the loader, so no file can exhaust memory or
crash the interpreter however it is crafted.

- A length field can say 2**40: reads longer than what is left of the file are refused before anything is
  allocated (the stock unpickler would try to allocate them and die of MemoryError).
- One stored block can be referenced many times (memo): the bytes turned into tensors and arrays are
  counted against the file's size, so a block used a thousand times cannot become a thousand copies.
- One-byte opcodes can create millions of objects: their number is capped.
- Hashing a tuple nested a million deep overflows the C stack (a segfault, not an exception): dict keys and
  set elements must be plain names and numbers, the targets of SETITEM/APPEND the containers they are for.
- After loading, the data must be a tree (no cycles) at most MAX_DEPTH deep and MAX_NODES large when shared
  parts are counted each time they are reached, so the recursive code that reads it stays bounded.
Network pickles of NVIDIA's code stay far inside every bound.
"""

from __future__ import annotations

import io
import pickle
import sys
from collections.abc import Callable, Iterable
from struct import unpack
from typing import Any, BinaryIO, ClassVar

from ..errors import UserError

# Three 16x16 networks in NVIDIA's pickle layout: 18,500 opcodes, 16 levels, 3,000 values; 1024x1024 ones have
# about three times the modules.
MAX_OPCODES = 2_000_000
MAX_DEPTH = 100
MAX_NODES = 2_000_000  # counted with repeats
SLACK_BYTES = 1 << 20  # headers and small arrays beyond the raw weights


class UnsafePickleError(UserError):
    """The pickle asks for something a network pickle never needs; it was not executed."""


class LoadLimits:
    """What one pickle load may still spend: bytes materialised beyond those read, and opcodes (shared with
    the small pickles nested in tensor storages)."""

    def __init__(self, file_bytes: int | None) -> None:
        self.bytes_left = sys.maxsize if file_bytes is None else file_bytes + SLACK_BYTES
        self.opcodes_left = MAX_OPCODES

    def spend_bytes(self, nbytes: int, what: str) -> None:
        if nbytes > self.bytes_left:
            raise UnsafePickleError(
                f"refused to load: the pickle builds more {what} data than the file holds (a stored block reused "
                "many times); not a network pickle, or it was tampered with"
            )
        self.bytes_left -= nbytes

    def spend_opcode(self) -> None:
        self.opcodes_left -= 1
        if self.opcodes_left < 0:
            raise UnsafePickleError(
                f"refused to load: the pickle has more than {MAX_OPCODES:,} instructions (a network pickle has a "
                "few tens of thousands)"
            )


def remaining_bytes(file: BinaryIO) -> int | None:
    """Bytes from the current position to the end, or None for a stream that cannot tell."""
    try:
        pos = file.tell()
        end = file.seek(0, io.SEEK_END)
        file.seek(pos)
    except (AttributeError, OSError, ValueError):
        return None
    return end - pos


class BoundedReader:
    """A file wrapper that refuses reads longer than what is left, before the caller allocates them."""

    def __init__(self, file: BinaryIO, size: int | None) -> None:
        self._file = file
        self.left = sys.maxsize if size is None else size

    def _check(self, n: int) -> None:
        if n > self.left:
            raise pickle.UnpicklingError(
                f"the pickle declares {n:,} bytes where {self.left:,} are left in the file (truncated or crafted)"
            )

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else n
        self._check(n)
        data = self._file.read(n)
        self.left -= len(data)
        return data

    def readline(self) -> bytes:
        data = self._file.readline()
        self.left -= len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


_ATOMS = (str, int, float, bool, bytes, type(None))


def checked_key(key: Any) -> Any:
    """A dict key or set element that is safe to hash: a name, a number, or a short flat tuple of them."""
    if type(key) in _ATOMS or (type(key) is tuple and len(key) <= 16 and all(type(k) in _ATOMS for k in key)):
        return key
    raise UnsafePickleError(
        f"refused to load: the pickle uses a `{type(key).__name__}` as a dict key or set element; network pickles "
        "key their data by names"
    )


class _CountingDispatch(dict):
    """The opcode table of one unpickler; every lookup is one opcode spent."""

    def __init__(self, table: dict[int, Callable[..., Any]], limits: LoadLimits) -> None:
        super().__init__(table)
        self.limits = limits

    def __getitem__(self, key: int) -> Callable[..., Any]:
        self.limits.spend_opcode()
        return dict.__getitem__(self, key)


class HardenedUnpickler(pickle._Unpickler):  # type: ignore[name-defined]
    """The pure-Python unpickler with every bound above; subclasses decide which globals exist."""

    dispatch: ClassVar[dict[int, Callable[..., Any]]] = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]

    def __init__(self, file: BinaryIO, limits: LoadLimits | None = None) -> None:
        size = remaining_bytes(file)
        self._reader = BoundedReader(file, size)
        super().__init__(self._reader)
        self.limits = limits if limits is not None else LoadLimits(size)
        self.dispatch = _CountingDispatch(type(self).dispatch, self.limits)  # type: ignore[misc]

    def _available(self) -> int:
        frame = getattr(getattr(self, "_unframer", None), "current_frame", None)
        in_frame = 0
        if frame is not None:
            with frame.getbuffer() as view:
                in_frame = view.nbytes - frame.tell()
        return self._reader.left + in_frame

    def _dict_target(self) -> dict:
        target = self.stack[-1]
        if not isinstance(target, dict):
            raise UnsafePickleError(f"refused to load: the pickle sets items on a `{type(target).__name__}` object")
        return target

    def _list_target(self) -> list:
        target = self.stack[-1]
        if type(target) is not list:
            raise UnsafePickleError(f"refused to load: the pickle appends to a `{type(target).__name__}` object")
        return target

    def load_setitem(self) -> None:
        value = self.stack.pop()
        key = self.stack.pop()
        self._dict_target()[checked_key(key)] = value

    def load_setitems(self) -> None:
        items = self.pop_mark()
        if len(items) % 2:
            raise pickle.UnpicklingError("SETITEMS with an odd number of items")
        target = self._dict_target()
        for i in range(0, len(items), 2):
            target[checked_key(items[i])] = items[i + 1]

    def load_dict(self) -> None:
        items = self.pop_mark()
        if len(items) % 2:
            raise pickle.UnpicklingError("DICT with an odd number of items")
        self.append({checked_key(items[i]): items[i + 1] for i in range(0, len(items), 2)})

    def load_append(self) -> None:
        value = self.stack.pop()
        self._list_target().append(value)

    def load_appends(self) -> None:
        items = self.pop_mark()
        self._list_target().extend(items)

    def load_additems(self) -> None:
        items = self.pop_mark()
        target = self.stack[-1]
        if type(target) is not set:
            raise UnsafePickleError(f"refused to load: the pickle adds set items to a `{type(target).__name__}` object")
        target.update(checked_key(item) for item in items)

    def load_frozenset(self) -> None:
        items = self.pop_mark()
        self.append(frozenset(checked_key(item) for item in items))

    def load_bytearray8(self) -> None:
        (n,) = unpack("<Q", self.read(8))
        if n > self._available():
            raise pickle.UnpicklingError(f"BYTEARRAY8 declares {n:,} bytes, more than the file has left")
        buffer = bytearray(n)
        self.readinto(buffer)
        self.append(buffer)

    for _opcode, _method in (
        (pickle.SETITEM, load_setitem), (pickle.SETITEMS, load_setitems), (pickle.DICT, load_dict),
        (pickle.APPEND, load_append), (pickle.APPENDS, load_appends), (pickle.ADDITEMS, load_additems),
        (pickle.FROZENSET, load_frozenset), (pickle.BYTEARRAY8, load_bytearray8),
    ):  # fmt: skip
        dispatch[_opcode[0]] = _method
    del _opcode, _method


def plain_children(obj: Any) -> Iterable[Any] | None:
    """Children of JSON-like data (None: a leaf)."""
    if isinstance(obj, dict):
        return [part for item in obj.items() for part in item] if obj else None
    if isinstance(obj, (list, tuple, set, frozenset)):
        return obj or None
    return None


def nesting_problem(
    root: Any,
    children: Callable[[Any], Iterable[Any] | None] = plain_children,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
) -> str | None:
    """None when `root` is a tree no deeper than max_depth with at most max_nodes nodes counted with repeats
    (what a recursive reader of it visits); else what is wrong. Iterative, so any input is safe to check."""
    if children(root) is None:
        return None
    done: dict[int, int] = {}  # id -> nodes below and including it, for shared parts
    on_path: set[int] = set()
    stack: list[list[Any]] = [[root, iter(children(root) or ()), 1]]
    on_path.add(id(root))
    while stack:
        frame = stack[-1]
        for child in frame[1]:
            kids = children(child)
            if kids is None:
                frame[2] += 1
                continue
            if id(child) in on_path:
                return "a reference cycle (an object that contains itself)"
            if id(child) in done:
                frame[2] += done[id(child)]
                if frame[2] > max_nodes:
                    return (
                        f"more than {max_nodes:,} values once shared parts are counted each time (a 'billion laughs')"
                    )
                continue
            if len(stack) >= max_depth:
                return f"data nested deeper than {max_depth} levels"
            on_path.add(id(child))
            stack.append([child, iter(kids), 1])
            break
        else:
            obj, _, count = stack.pop()
            on_path.discard(id(obj))
            done[id(obj)] = count
            if count > max_nodes:
                return f"more than {max_nodes:,} values once shared parts are counted each time (a 'billion laughs')"
            if stack:
                stack[-1][2] += count
    return None
