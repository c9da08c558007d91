"""The blank directory templates open in LibreOffice Calc as users open them (Debian's
``libreoffice-calc-nogui``, headless): both sheets, the header row, the explanations."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import pytest

from directory.templates_xlsx import template_xlsx
from tests.conftest import service_missing

pytestmark = pytest.mark.slow


def _soffice() -> str:
    path = shutil.which("soffice") or shutil.which("libreoffice")
    if path is None:
        service_missing("LibreOffice (libreoffice-calc-nogui)")
        raise AssertionError("unreachable")
    return path


@pytest.mark.parametrize(("kind", "first"), [("units", "单位编码"), ("cadres", "干部编号")])
def test_libreoffice_reads_the_template(tmp_path: Path, kind: str, first: str) -> None:
    source = tmp_path / f"{kind}.xlsx"
    source.write_bytes(template_xlsx(kind))
    profile = tmp_path / "profile"
    done = subprocess.run(
        [
            _soffice(),
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sheets = sorted(tmp_path.glob(f"{kind}-*.csv"))  # one CSV per sheet (the -1 option)
    assert len(sheets) == 2, (list(tmp_path.iterdir()), done.stdout)
    rows = [list(csv.reader(p.open(encoding="utf-8"))) for p in sheets]
    headers = {r[0][0] for r in rows if r}
    assert first in headers and "列" in headers
    explained = next(r for r in rows if r and r[0][0] == "列")
    assert [row[0] for row in explained[1:]] == next(r for r in rows if r[0][0] == first)[0]
