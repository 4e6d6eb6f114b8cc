"""Reading an offline W&B run file (``run-<id>.wandb``) back: used to find the last step a
run interrupted by SIGKILL actually got to disk, and by the tests.

The file is W&B's LevelDB-style log: a 7-byte header (``:W&B``, magic, version), then
32 KiB blocks of chunks, each with a 7-byte header (crc32, length, type: 1 full,
2 first, 3 middle, 4 last) carrying serialised ``wandb_internal_pb2.Record`` messages.
A file cut short by a kill ends in a partial chunk, which is ignored.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from wandb.proto import wandb_internal_pb2

_BLOCK = 32 * 1024
_HEADER = 7


def records(path: str | Path) -> list[wandb_internal_pb2.Record]:
    """Every complete record of the file, in order."""
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
        if (kind == 0 and length == 0) or len(chunk) < length:  # end, or cut short by a kill
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


def run_history(wandb_dir: str | Path, run_id: str) -> list[dict]:
    """Every ``wandb.log`` row of the offline run ``run_id``, over all its run files under
    ``wandb_dir`` (one per attempt of a resumed run; unreadable ones are skipped)."""
    rows: list[dict] = []
    for path in Path(wandb_dir).glob(f"offline-run-*-{run_id}/run-{run_id}.wandb"):
        try:
            rows += history(path)
        except (OSError, ValueError):
            continue
    return rows
