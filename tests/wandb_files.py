"""Read logged values back from an offline W&B run file (``run-<id>.wandb``).

The file is W&B's LevelDB-style log: a 7-byte header (``:W&B``, magic, version), then
32 KiB blocks of chunks, each with a 7-byte header (crc32, length, type: 1 full,
2 first, 3 middle, 4 last) carrying serialised ``wandb_internal_pb2.Record`` messages.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from wandb.proto import wandb_internal_pb2

_BLOCK = 32 * 1024
_HEADER = 7


def records(path: str | Path) -> list[wandb_internal_pb2.Record]:
    data = Path(path).read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B run file")
    out, pending, pos = [], b"", 7
    while pos + _HEADER <= len(data):
        left_in_block = _BLOCK - pos % _BLOCK
        if left_in_block < _HEADER:  # block trailer padding
            pos += left_in_block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + _HEADER])
        chunk = data[pos + _HEADER : pos + _HEADER + length]
        pos += _HEADER + length
        if kind == 0 and length == 0:
            break
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            out.append(record)
            pending = b""
    return out


def history(path: str | Path) -> list[dict]:
    """Every ``wandb.log`` row of the run, as dicts of decoded values."""
    rows = []
    for r in records(path):
        if r.WhichOneof("record_type") == "history":
            rows.append({(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in r.history.item})
    return rows


def run_file(run_dir: str | Path) -> Path:
    """The single ``run-*.wandb`` file under a training run directory."""
    files = sorted(Path(run_dir).rglob("run-*.wandb"))
    if len(files) != 1:
        raise AssertionError(f"expected one W&B run file under {run_dir}, found {files}")
    return files[0]


def summary(path: str | Path) -> dict:
    """The run summary as written by ``run.summary[...] = ...`` (latest value per key)."""
    out = {}
    for r in records(path):
        if r.WhichOneof("record_type") == "summary":
            for item in r.summary.update:
                out[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return out
