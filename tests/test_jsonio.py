"""Files are replaced whole or not at all: nothing already stored is lost on failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from clt_kit.jsonio import InputError, iter_jsonl, publish_dir


def test_publish_dir_replaces_on_success_and_keeps_the_old_folder_on_failure(tmp_path: Path) -> None:
    final = tmp_path / "out"
    with publish_dir(final) as tmp:
        (tmp / "a.txt").write_text("v1")
    assert (final / "a.txt").read_text() == "v1"
    with pytest.raises(RuntimeError):
        with publish_dir(final) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("killed midway")
    assert (final / "a.txt").read_text() == "v1"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no scratch folder left behind
    with publish_dir(final) as tmp:
        (tmp / "b.txt").write_text("v2")
    assert sorted(p.name for p in final.iterdir()) == ["b.txt"]


def test_iter_jsonl_names_the_line_or_reports_it(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n\n[1]\n{"b": 2}\n')
    with pytest.raises(InputError, match=rf"{path}:3: expected a JSON object"):
        list(iter_jsonl(path))
    seen: list[tuple[str, str]] = []
    rows = list(iter_jsonl(path, on_error=lambda reason, message: seen.append((reason, message))))
    assert [n for n, _ in rows] == [1, 4]
    assert seen == [("malformed_json", f"{path}:3: expected a JSON object, got list")]
