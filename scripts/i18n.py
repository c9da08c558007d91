"""Refresh the zh_Hans catalogue and compile it.

1. ``makemessages`` collects every msgid of our code and templates;
2. translations written in ``locale/fragments/*.po`` (one file per area, plain
   msgid/msgstr pairs) fill the entries that are still empty;
3. ``compilemessages`` builds the ``.mo`` files (committed, so ``make run`` needs no gettext).

Run: ``.venv/bin/python scripts/i18n.py`` (needs GNU gettext).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
IGNORE = [".venv/*", "var/*", "static/vendor/*", "node_modules/*", "bench/*", "tests/*"]


def main() -> int:
    os.chdir(ROOT)
    manage = [sys.executable, "manage.py"]
    ignore_args = [arg for pattern in IGNORE for arg in ("--ignore", pattern)]
    for domain in ("django", "djangojs"):
        subprocess.run(  # noqa: S603
            [
                *manage,
                "makemessages",
                "-l",
                "zh_Hans",
                "-l",
                "en",
                "-d",
                domain,
                "--no-location",
                *ignore_args,
            ],
            check=True,
        )
    known: dict[tuple[str, str], polib.POEntry] = {}
    for fragment in sorted((ROOT / "locale" / "fragments").glob("*.po")):
        for entry in polib.pofile(str(fragment)):
            if entry.msgstr or entry.msgstr_plural:
                known.setdefault((entry.msgctxt or "", entry.msgid), entry)
    missing = 0
    for domain in ("django", "djangojs"):
        path = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / f"{domain}.po"
        if not path.exists():
            continue
        catalogue = polib.pofile(str(path))
        for entry in catalogue:
            source = known.get((entry.msgctxt or "", entry.msgid))
            if source is not None and (not entry.translated() or "fuzzy" in entry.flags):
                entry.msgstr = source.msgstr
                entry.msgstr_plural = dict(source.msgstr_plural)
                if "fuzzy" in entry.flags:
                    entry.flags.remove("fuzzy")
            if not entry.translated() and not entry.obsolete:
                missing += 1
                print(f"untranslated ({domain}): {entry.msgid!r}")
        catalogue.save()
    subprocess.run([*manage, "compilemessages", *ignore_args], check=True)  # noqa: S603
    print(f"{missing} untranslated entries")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
