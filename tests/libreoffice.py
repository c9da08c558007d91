"""Opening our XLSX files the way users do: LibreOffice Calc, headless (Debian's
``libreoffice-calc-nogui``), every sheet converted to CSV and read back."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

from tests.conftest import service_missing

# CSV filter: comma, double quotes, UTF-8 (76), from line 1, …, the last token -1: every sheet
# to its own file (<name>-<sheet>.csv).
_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"


def libreoffice_sheets(path: Path, workdir: Path) -> list[list[list[str]]]:
    """The rows of every sheet of the workbook at ``path``, as LibreOffice reads them."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        service_missing("LibreOffice (libreoffice-calc-nogui)")
        raise AssertionError("unreachable")
    out = workdir / f"lo-{path.stem}"
    out.mkdir()
    done = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{workdir / 'lo-profile'}",
            "--headless",
            "--convert-to",
            _FILTER,
            "--outdir",
            str(out),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(done.stdout + done.stderr)
    sheets = sorted(out.glob("*.csv"))
    return [list(csv.reader(p.open(encoding="utf-8"))) for p in sheets]
