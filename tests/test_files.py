"""data/cache.py's atomic writes: all or nothing, with the permissions a plain open() gives."""

from __future__ import annotations

import stat

import pytest

from data.cache import atomic_file, write_json_atomic


def test_atomic_file_replaces_whole_and_has_the_usual_mode(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    target = tmp_path / "sub" / "table.csv"
    with atomic_file(target, "w") as f:
        f.write("a,b\n1,2\n")
    assert target.read_text() == "a,b\n1,2\n"
    assert stat.S_IMODE(target.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)  # not mkstemp's 0600
    write_json_atomic(target.with_suffix(".json"), {"k": 1})
    assert stat.S_IMODE(target.with_suffix(".json").stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "score.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(target, "w") as f:
        f.write("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["score.json"]
