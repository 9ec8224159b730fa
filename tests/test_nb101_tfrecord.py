"""The NAS-Bench-101 tfrecord reader on small files written here in the official layout.

The writer below is the test's own: a bitwise CRC32C (checked against RFC 3720's test vectors), TFRecord
framing, the benchmark's JSON list per record, and a hand-written protobuf encoding of ``ModelMetrics``
(checked against the protobuf package's own serialisation where that package is installed).
"""

from __future__ import annotations

import base64
import json
import math
import struct

import numpy as np
import pytest

from zcnas.benchmarks import _tfrecord as tfr
from zcnas.benchmarks.nb101 import convert_official, load_nb101, load_nb101_official
from zcnas.spaces import nb101

# --- the test's own writer ------------------------------------------------------------------------------------

def bitwise_crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 * (crc & 1))
    return crc ^ 0xFFFFFFFF


def masked(data: bytes) -> int:
    crc = bitwise_crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked(length)) + data + struct.pack("<I", masked(data))


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field_double(number: int, value: float) -> bytes:
    return varint(number << 3 | 1) + struct.pack("<d", value)


def field_bytes(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def evaluation(epoch, train_time, train_acc, val_acc, test_acc, path=""):
    msg = (field_double(1, epoch) + field_double(2, train_time) + field_double(3, train_acc)
           + field_double(4, val_acc) + field_double(5, test_acc))
    return msg + (field_bytes(6, path.encode()) if path else b"")


def model_metrics(evals: list[bytes], params: int, total_time: float) -> bytes:
    return b"".join(field_bytes(1, e) for e in evals) + varint(2 << 3 | 0) + varint(params) + field_double(3, total_time)


def record(module_hash, epochs, cell: nb101.NB101Cell, metrics: bytes) -> bytes:
    adjacency = "".join(str(x) for row in cell.matrix for x in row)
    row = [module_hash, epochs, adjacency, ",".join(cell.ops), base64.b64encode(metrics).decode()]
    return json.dumps(row).encode()


CELL_A = nb101.from_string("31m33/111100-00001-0001-001-10-1")  # the NASBench notebook's Inception-like cell
CELL_B = nb101.from_string("3/11-1")
RUNS = {  # cell -> [(final val, final test, final train time), ...] for three repeats at 108 epochs
    "a": [(0.9376, 0.9312, 1155.85), (0.9401, 0.9320, 1150.0), (0.9350, 0.9290, 1160.0)],
    "b": [(0.80, 0.79, 300.0), (0.82, 0.81, 310.0), (0.81, 0.80, 305.0)],
}


def write_file(path, extra: bytes = b"", *, epochs12: bool = False, wrong_hash: bool = False):
    blobs = []
    for key, cell, params in (("a", CELL_A, 2694282), ("b", CELL_B, 12345)):
        h = nb101.graph_hash(cell) if not wrong_hash or key == "a" else "0" * 32
        for val, test, seconds in RUNS[key]:
            evals = [evaluation(0, 0, 0.1, 0.1, 0.1), evaluation(54, seconds / 2, 0.8, val - 0.1, test - 0.1),
                     evaluation(108, seconds, 1.0, val, test, "/ckpt/model.ckpt-1")]
            blobs.append(frame(record(h, 108, cell, model_metrics(evals, params, seconds + 60))))
        if epochs12:
            evals = [evaluation(0, 0, 0.1, 0.1, 0.1), evaluation(6, 5, 0.5, 0.5, 0.5), evaluation(12, 10, 0.7, 0.6, 0.55)]
            blobs.append(frame(record(h, 12, cell, model_metrics(evals, params, 70))))
    path.write_bytes(b"".join(blobs) + extra)
    return path


# --- tests ----------------------------------------------------------------------------------------------------

def test_crc32c_against_rfc3720_vectors():
    vectors = {b"123456789": 0xE3069283, bytes(32): 0x8A9136AA, b"\xff" * 32: 0x62A8AB43,
               bytes(range(32)): 0x46DD794E}
    for data, crc in vectors.items():
        assert bitwise_crc32c(data) == crc
        assert tfr.crc32c(data) == crc


def test_protobuf_decoder_hand_encoded_and_negative_int32():
    msg = model_metrics([evaluation(108, 1.5, 1.0, 0.9, 0.8, "p")], -7, 2.5)
    parsed = tfr.parse_model_metrics(msg)
    assert parsed == {"evaluation_data": [{"current_epoch": 108.0, "training_time": 1.5, "train_accuracy": 1.0,
                                           "validation_accuracy": 0.9, "test_accuracy": 0.8,
                                           "checkpoint_path": "p"}],
                      "trainable_parameters": -7, "total_time": 2.5}
    with pytest.raises(ValueError, match="ends inside a varint"):
        tfr.decode_message(b"\x10\x96")
    with pytest.raises(ValueError, match="wire type 3"):
        tfr.decode_message(b"\x0b")


def test_protobuf_decoder_against_the_protobuf_package():
    pytest.importorskip("google.protobuf")
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    proto = descriptor_pb2.FileDescriptorProto(name="zcnas_test_model_metrics.proto", package="zcnas_test",
                                               syntax="proto2")
    ev = proto.message_type.add(name="EvaluationData")
    for number, name in enumerate(["current_epoch", "training_time", "train_accuracy", "validation_accuracy",
                                   "test_accuracy"], start=1):
        ev.field.add(name=name, number=number, type=descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE,
                     label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    ev.field.add(name="checkpoint_path", number=6, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                 label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    mm = proto.message_type.add(name="ModelMetrics")
    mm.field.add(name="evaluation_data", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
                 type_name=".zcnas_test.EvaluationData", label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED)
    mm.field.add(name="trainable_parameters", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
                 label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    mm.field.add(name="total_time", number=3, type=descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE,
                 label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName("zcnas_test.ModelMetrics"))
    message = cls(trainable_parameters=2694282, total_time=1769.2)
    for k, epoch in enumerate((0.0, 54.0, 108.0)):
        message.evaluation_data.add(current_epoch=epoch, training_time=11.0 * k, train_accuracy=0.1 + k,
                                    validation_accuracy=0.93760013580, test_accuracy=0.9311898946762085,
                                    checkpoint_path=f"model.ckpt-{k}")
    raw = message.SerializeToString()
    assert raw == model_metrics([evaluation(e, 11.0 * k, 0.1 + k, 0.93760013580, 0.9311898946762085,
                                            f"model.ckpt-{k}") for k, e in enumerate((0.0, 54.0, 108.0))],
                                2694282, 1769.2)
    parsed = tfr.parse_model_metrics(raw)
    assert parsed["trainable_parameters"] == 2694282 and parsed["total_time"] == 1769.2
    assert [e["current_epoch"] for e in parsed["evaluation_data"]] == [0.0, 54.0, 108.0]
    assert parsed["evaluation_data"][2]["validation_accuracy"] == 0.93760013580
    assert parsed["evaluation_data"][1]["checkpoint_path"] == "model.ckpt-1"


def test_records_and_table_from_a_small_official_file(tmp_path):
    path = write_file(tmp_path / "mini_only108.tfrecord")
    runs = list(tfr.read_nasbench_records(path))
    assert len(runs) == 6 and {r["epochs"] for r in runs} == {108}
    assert runs[0]["hash"] == nb101.graph_hash(CELL_A) and runs[0]["ops"] == list(CELL_A.ops)
    assert runs[0]["matrix"] == [list(r) for r in CELL_A.matrix]
    table = load_nb101(path)
    assert table.metrics == ["params", "cifar10_val_108ep", "cifar10_test_108ep", "train_time_108ep"]
    a = nb101.to_string(CELL_A)
    assert table.accuracy(a, "cifar10_val_108ep") == pytest.approx(100 * np.mean([v for v, _, _ in RUNS["a"]]))
    assert table.accuracy(a, "cifar10_test_108ep") == pytest.approx(100 * np.mean([t for _, t, _ in RUNS["a"]]))
    assert table.accuracy(a, "train_time_108ep") == pytest.approx(np.mean([s for _, _, s in RUNS["a"]]))
    assert table.accuracy(a, "params") == 2694282
    assert table.by_hash(nb101.graph_hash(CELL_B)) == nb101.to_string(CELL_B)
    assert table.split_metric("cifar10", "test") == "cifar10_test_108ep"
    assert table.direction("params") == "min" and table.direction("cifar10_val_108ep") == "max"
    # any isomorphic form of a cell finds its row
    relabelled = nb101.from_matrix([[0, 1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1],
                                    [0, 0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1],
                                    [0, 0, 0, 0, 0, 0, 0]],
                                   ["input", "conv1x1-bn-relu", "conv3x3-bn-relu", "conv3x3-bn-relu",
                                    "conv3x3-bn-relu", "maxpool3x3", "output"])
    assert relabelled in table and table.accuracy(relabelled, "params") == 2694282


def test_full_file_layout_gives_one_column_per_budget(tmp_path):
    table = load_nb101_official(write_file(tmp_path / "mini_full.tfrecord", epochs12=True))
    assert "cifar10_val_12ep" in table.metrics and "cifar10_test_12ep" in table.metrics
    assert table.accuracy(nb101.to_string(CELL_B), "cifar10_val_12ep") == pytest.approx(60.0)


def test_parquet_conversion_round_trip(tmp_path):
    src = write_file(tmp_path / "mini.tfrecord")
    dst = convert_official(src, tmp_path / "mini.parquet")
    a, b = load_nb101(src), load_nb101(dst)
    assert a.cells == b.cells and a.metrics == b.metrics
    for metric in a.metrics:
        assert a.column(metric).equals(b.column(metric))
    assert b.by_hash(nb101.graph_hash(CELL_A)) == nb101.to_string(CELL_A)
    assert not list(tmp_path.glob("*.tmp"))


def test_corrupt_files_are_refused_naming_the_record(tmp_path):
    good = write_file(tmp_path / "good.tfrecord").read_bytes()
    first = 12 + struct.unpack("<Q", good[:8])[0] + 4
    flipped = bytearray(good)
    flipped[first + 20] ^= 0x01  # a byte inside record 1's data
    (tmp_path / "flip.tfrecord").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=r"record 1 at byte \d+: the data CRC does not match"):
        list(tfr.read_records(tmp_path / "flip.tfrecord"))
    assert len(list(tfr.read_records(tmp_path / "flip.tfrecord", check_data_crc=False))) == 6
    (tmp_path / "cut.tfrecord").write_bytes(good[:-3])
    with pytest.raises(ValueError, match="record 5 .* truncated"):
        list(tfr.read_records(tmp_path / "cut.tfrecord"))
    (tmp_path / "text.tfrecord").write_bytes(b"hello world, not a tfrecord file")
    with pytest.raises(ValueError, match="length CRC does not match"):
        list(tfr.read_records(tmp_path / "text.tfrecord"))
    (tmp_path / "json.tfrecord").write_bytes(good + frame(b'["abc", 108]'))
    with pytest.raises(ValueError, match="record 6 is not a NAS-Bench-101 record"):
        list(tfr.read_nasbench_records(tmp_path / "json.tfrecord"))


def test_hash_check_catches_a_wrong_hash(tmp_path):
    path = write_file(tmp_path / "wrong.tfrecord", wrong_hash=True)
    assert len(load_nb101_official(path)) == 2  # not checked by default
    with pytest.raises(ValueError, match="differs from the cell's graph hash"):
        load_nb101_official(path, check_hashes=True)
    assert math.isclose(load_nb101_official(write_file(tmp_path / "ok.tfrecord"), check_hashes=True)
                        .accuracy(CELL_B, "params"), 12345)
