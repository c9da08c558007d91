"""The blank directory templates open in LibreOffice Calc as users open them: both sheets,
the header row, an explanation for every column."""

from __future__ import annotations

from pathlib import Path

import pytest

from directory.templates_xlsx import template_xlsx
from tests.libreoffice import libreoffice_sheets

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("kind", "first"), [("units", "单位编码"), ("cadres", "干部编号")])
def test_libreoffice_reads_the_template(tmp_path: Path, kind: str, first: str) -> None:
    source = tmp_path / f"{kind}.xlsx"
    source.write_bytes(template_xlsx(kind))
    sheets = libreoffice_sheets(source, tmp_path)
    assert len(sheets) == 2, sheets
    header = next(s for s in sheets if s and s[0][0] == first)[0]
    explained = next(s for s in sheets if s and s[0][0] == "列")
    assert [row[0] for row in explained[1:]] == header
    assert all(row[1] for row in explained[1:])  # every column explained
