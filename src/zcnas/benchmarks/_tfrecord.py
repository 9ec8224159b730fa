"""Read NAS-Bench-101's official ``nasbench_*.tfrecord`` files with no TensorFlow and no protobuf package.

Layout (learned from the public ``nasbench`` API, ``nasbench/api.py`` and ``lib/model_metrics.proto``):

- TFRecord framing, per record: the data length as a little-endian uint64, the masked CRC32C of those 8 bytes
  (uint32), the data, the masked CRC32C of the data (uint32). A masked CRC is
  ``((crc >> 15) | (crc << 17)) + 0xa282ead8`` modulo 2**32; CRC32C is the Castagnoli CRC (reflected
  polynomial 0x82f63b78).
- Each record's data is a UTF-8 JSON list ``[module_hash, epochs, adjacency, operations, metrics]``: the
  graph hash, the epoch budget (108; 4, 12, 36 too in the full file), the V x V matrix as a string of V*V
  digits, the ops joined by commas, and a base64 ``ModelMetrics`` protobuf. There is one record per training
  run: three runs (repeats) per cell and budget.
- ``ModelMetrics``: field 1 ``evaluation_data`` (repeated message), field 2 ``trainable_parameters`` (int32),
  field 3 ``total_time`` (double). ``EvaluationData``: 1 ``current_epoch``, 2 ``training_time``,
  3 ``train_accuracy``, 4 ``validation_accuracy``, 5 ``test_accuracy`` (doubles), 6 ``checkpoint_path``
  (string). ``evaluation_data`` holds the evaluations at the start, halfway and end of training; accuracies
  are fractions in [0, 1].

Example:
    >>> crc32c(b"123456789") == 0xE3069283
    True
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "NasbenchRecord",
    "crc32c",
    "decode_message",
    "masked_crc32c",
    "parse_model_metrics",
    "read_nasbench_records",
    "read_records",
]

_POLY = 0x82F63B78


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _table()


def crc32c(data: bytes) -> int:
    """The CRC32C (Castagnoli) of ``data``, as TFRecord uses it."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC32C of ``data``."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path: str | Path, *, check_data_crc: bool = True) -> Iterator[bytes]:
    """The records of a TFRecord file, each checked against its CRCs.

    Args:
        path: the file.
        check_data_crc: also check each record's data CRC (pure Python, about a minute for the 499 MB
            official file); the length CRC is always checked.

    Raises:
        ValueError: a truncated file or a CRC mismatch, naming the record and its byte offset.
    """
    path = Path(path)
    with path.open("rb") as handle:
        index = 0
        while True:
            offset = handle.tell()
            header = handle.read(12)
            if not header:
                return
            if len(header) < 12:
                raise ValueError(f"{path}: record {index} at byte {offset} is truncated (header of {len(header)} bytes)")
            length_bytes, length_crc = header[:8], struct.unpack("<I", header[8:])[0]
            if masked_crc32c(length_bytes) != length_crc:
                raise ValueError(f"{path}: record {index} at byte {offset}: the length CRC does not match; "
                                 "not a TFRecord file or a corrupt one")
            (length,) = struct.unpack("<Q", length_bytes)
            data = handle.read(length)
            footer = handle.read(4)
            if len(data) < length or len(footer) < 4:
                raise ValueError(f"{path}: record {index} at byte {offset} is truncated")
            if check_data_crc and masked_crc32c(data) != struct.unpack("<I", footer)[0]:
                raise ValueError(f"{path}: record {index} at byte {offset}: the data CRC does not match")
            yield data
            index += 1


# ---------------------------------------------------------------------- protobuf wire format


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("protobuf message ends inside a varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("protobuf varint longer than 10 bytes")


def decode_message(buf: bytes) -> dict[int, list[Any]]:
    """The fields of one protobuf message: field number -> values in order (raw wire values).

    Varints come back as unsigned ints, fixed64 / fixed32 as 8 / 4 raw bytes, length-delimited fields as bytes.

    Example:
        >>> decode_message(bytes([0x10, 0x96, 0x01]))
        {2: [150]}
    """
    fields: dict[int, list[Any]] = {}
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"protobuf wire type {wire} (field {number}) is not supported")
        if pos > len(buf):
            raise ValueError(f"protobuf field {number} runs past the end of the message")
        fields.setdefault(number, []).append(value)
    return fields


def _double(raw: bytes) -> float:
    return struct.unpack("<d", raw)[0]


def _int32(value: int) -> int:
    value &= 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value >= 1 << 63 else value


_EVAL_FIELDS = {1: "current_epoch", 2: "training_time", 3: "train_accuracy", 4: "validation_accuracy",
                5: "test_accuracy"}


def parse_model_metrics(buf: bytes) -> dict[str, Any]:
    """A ``ModelMetrics`` message as ``{"evaluation_data": [dict, ...], "trainable_parameters", "total_time"}``.

    Scalars take the last value seen (protobuf's rule); absent ones are missing from the dicts.
    """
    fields = decode_message(buf)
    evaluations = []
    for raw in fields.get(1, []):
        sub = decode_message(raw)
        entry: dict[str, Any] = {name: _double(sub[num][-1]) for num, name in _EVAL_FIELDS.items() if num in sub}
        if 6 in sub:
            entry["checkpoint_path"] = sub[6][-1].decode("utf-8")
        evaluations.append(entry)
    result: dict[str, Any] = {"evaluation_data": evaluations}
    if 2 in fields:
        result["trainable_parameters"] = _int32(fields[2][-1])
    if 3 in fields:
        result["total_time"] = _double(fields[3][-1])
    return result


# ---------------------------------------------------------------------- nasbench records


class NasbenchRecord(dict):
    """One training run: ``hash``, ``epochs``, ``matrix`` (list of rows), ``ops``, ``metrics`` (parsed)."""


def read_nasbench_records(path: str | Path, *, check_data_crc: bool = True) -> Iterator[NasbenchRecord]:
    """The training runs of an official ``nasbench_*.tfrecord`` file, decoded.

    Raises:
        ValueError: a framing error, or a record that is not the benchmark's JSON list (naming the record).
    """
    for index, data in enumerate(read_records(path, check_data_crc=check_data_crc)):
        try:
            module_hash, epochs, adjacency, operations, metrics = json.loads(data.decode("utf-8"))
            dim = int(round(len(adjacency) ** 0.5))
            if dim * dim != len(adjacency) or set(adjacency) - {"0", "1"}:
                raise ValueError(f"adjacency {adjacency!r} is not a square 0/1 matrix")
            matrix = [[int(adjacency[r * dim + c]) for c in range(dim)] for r in range(dim)]
            parsed = parse_model_metrics(base64.b64decode(metrics))
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: record {index} is not a NAS-Bench-101 record ({exc})") from None
        yield NasbenchRecord(hash=str(module_hash), epochs=int(epochs), matrix=matrix,
                             ops=operations.split(","), metrics=parsed)
