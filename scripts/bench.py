"""Run every benchmark in ``bench/`` and print a results table (``make bench``).

A benchmark is a ``bench/*.py`` file that defines ``main()``; it runs as its own process
(``python bench/NAME.py``) and reports on stdout. Its last non-empty output line is shown
in the table (a benchmark should end with a one-line summary). Files without ``main`` are
helpers and are left alone.

A benchmark runs with its own defaults, except those in ``ARGS`` (defaults sized for a
standalone run that would take too long here).

Options: ``--only NAME`` (repeatable) runs a subset; ``--timeout S`` bounds each run.
Exit status is non-zero when any benchmark failed or timed out.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
HAS_MAIN = re.compile(r"^def main\(", re.MULTILINE)
# the full 2,000 askers, but over 2 minutes instead of the 5 (bench/README.md)
ARGS = {"moderation_live": ["--window", "120"]}


def discover(only: list[str]) -> list[Path]:
    scripts = sorted(p for p in BENCH.glob("*.py") if HAS_MAIN.search(p.read_text("utf-8")))
    if only:
        scripts = [p for p in scripts if p.stem in only]
    return scripts


def _kill_group(proc: subprocess.Popen[str]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.communicate(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def run(script: Path, timeout: float) -> tuple[str, float, str]:
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    # Own process group: a timeout (or Ctrl-C) also ends the servers a benchmark started.
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, str(script), *ARGS.get(script.stem, [])],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except (subprocess.TimeoutExpired, KeyboardInterrupt) as exc:
        _kill_group(proc)
        if isinstance(exc, KeyboardInterrupt):
            raise
        return "timeout", time.monotonic() - started, f"> {timeout:.0f} s"
    elapsed = time.monotonic() - started
    lines = [line for line in stdout.splitlines() if line.strip()]
    if proc.returncode != 0:
        errors = [line for line in stderr.splitlines() if line.strip()]
        return f"exit {proc.returncode}", elapsed, (errors or lines or [""])[-1]
    for line in lines:
        print(f"  {script.stem}: {line}")
    return "ok", elapsed, lines[-1] if lines else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()

    scripts = discover(args.only)
    if not scripts:
        print("bench/: no benchmark defines main() yet")
        return 0
    rows = []
    for script in scripts:
        print(f"running bench/{script.name} …", flush=True)
        rows.append((script.stem, *run(script, args.timeout)))

    name_w = max(len("benchmark"), *(len(r[0]) for r in rows))
    print()
    print(f"{'benchmark':<{name_w}}  {'status':<8}  {'seconds':>8}  result")
    print(f"{'-' * name_w}  {'-' * 8}  {'-' * 8}  {'-' * 40}")
    for name, status, seconds, summary in rows:
        print(f"{name:<{name_w}}  {status:<8}  {seconds:>8.1f}  {summary[:120]}")
    return 0 if all(r[1] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
