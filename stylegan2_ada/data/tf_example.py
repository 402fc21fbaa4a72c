"""tf.train.Example records of TF-era StyleGAN datasets, parsed from the protobuf wire format.

No TensorFlow or protobuf package: the few wire types an Example uses are decoded here. Malformed input
raises ValueError or IndexError, which callers turn into a per-record skip.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """Protobuf wire format -> (field number, wire type, value); length-delimited values are bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _int64s(buf: bytes) -> list[int]:
    """Int64List: packed (wire 2) or repeated varints; negative values are two's complement."""
    values = []
    for number, wire, value in _fields(buf):
        if number != 1:
            continue
        if wire == 2:
            pos = 0
            while pos < len(value):
                v, pos = _varint(value, pos)
                values.append(v)
        else:
            values.append(value)
    return [v - (1 << 64) if v >= 1 << 63 else v for v in values]


def parse_example(buf: bytes) -> dict[str, Any]:
    """tf.train.Example -> {feature name: list of bytes | list of int | list of float}."""
    out: dict[str, Any] = {}
    for number, _, features in _fields(buf):
        if number != 1:  # Example.features
            continue
        for fnum, _, entry in _fields(features):
            if fnum != 1:  # Features.feature (map entry)
                continue
            key, feature = "", b""
            for enum, _, value in _fields(entry):
                if enum == 1:
                    key = value.decode("utf-8")
                elif enum == 2:
                    feature = value
            for kind, _, payload in _fields(feature):
                if kind == 1:  # BytesList
                    out[key] = [v for n, _, v in _fields(payload) if n == 1]
                elif kind == 2:  # FloatList (packed or not)
                    floats: list[float] = []
                    for n, w, v in _fields(payload):
                        if n == 1:
                            floats.extend(struct.unpack(f"<{len(v) // 4}f", v) if w == 2 else struct.unpack("<f", v))
                    out[key] = floats
                elif kind == 3:  # Int64List
                    out[key] = _int64s(payload)
    return out

