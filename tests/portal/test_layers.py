"""The import layers of pyproject.toml hold, and a back-import breaks them.

The second test copies the apps to a temporary folder, adds one import that goes up a layer
(the bottom app importing the demo) and runs the same ``lint-imports`` that ``make test``
runs: it must fail and name the offending import. So a contract that silently stopped
matching anything (a renamed app, a typo in a layer) would fail here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = tuple(
    tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]
)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_layers_hold() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "message"),
    [
        ("portal/bulk.py", "import demo.seed", "portal is not allowed to import demo"),
        ("courses/services.py", "import livestream.hub", "courses is not allowed to import"),
        (
            "courses/summaries/sync.py",
            "import courses.reports.attendance",
            "courses.summaries is not allowed to import courses.reports",
        ),
    ],
)
def test_a_back_import_breaks_the_layers(
    tmp_path: Path, module: str, line: str, message: str
) -> None:
    for app in APPS:
        shutil.copytree(
            ROOT / app, tmp_path / app, ignore=shutil.ignore_patterns("__pycache__", "migrations")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}  # a deliberate back-import\n")

    result = _lint(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stdout, result.stdout
