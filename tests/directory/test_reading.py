"""Reading directory files: encodings, a character cut at the sniffing boundary, progress."""

from __future__ import annotations

from pathlib import Path

import pytest

from directory import reading
from directory.reading import csv_encoding, table_open


def test_encodings_are_detected() -> None:
    assert csv_encoding("干部编号".encode("utf-8-sig")) == "utf-8-sig"
    assert csv_encoding("干部编号".encode()) == "utf-8"
    assert csv_encoding("干部编号".encode("gbk")) == "gb18030"
    cut = "编".encode()[:2]  # a UTF-8 character cut by the end of the sniffed bytes
    assert csv_encoding(b"abc" + cut) == "utf-8"


def test_a_multibyte_character_across_the_sniff_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading, "SNIFF_BYTES", 10)  # cuts 部 in the header
    path = tmp_path / "f.csv"
    path.write_text("干部编号,姓名\nG1,张三丰\n", encoding="utf-8")
    table = table_open(path)
    assert table.encoding == "utf-8"
    assert list(table.rows) == [(2, ["G1", "张三丰"])]
    assert table.done_fraction() == 1.0
