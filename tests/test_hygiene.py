"""The project speaks of itself: no file tells how it was developed."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Development history belongs in CHANGELOG.md by version, never in code, data or docs.
HISTORY = re.compile(r"\bsessions? \d|\bsession-\d|\bissues? #?\d|#\d+ must|must-hold|"
                     r"this machine|\bticket #?\d", re.I)
SUFFIXES = {".py", ".toml", ".md", ".json", ".csv", ".txt", ".cfg", ".yml", ".yaml"}


def _tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / line for line in out.splitlines()
            if Path(line).suffix in SUFFIXES and not line.startswith("tests/reference/")]


def test_no_file_speaks_of_how_it_was_developed():
    found = []
    for path in _tracked():
        if path == Path(__file__) or not path.is_file():
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace")
                                 .splitlines(), start=1):
            if HISTORY.search(line) and "HISTORY" not in line and "DEVELOPMENT" not in line:
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert not found, "development history outside CHANGELOG.md:\n" + "\n".join(found)
