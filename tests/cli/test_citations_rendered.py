"""What a user reads cites readable sources, never a bare fact key such as seed:B18."""

from __future__ import annotations

import re

import pytest

from boneturnover.cli import main
from boneturnover.validation import CheckResult, checks, format_table

BARE_KEY = re.compile(r"seed:[BM]\d")


@pytest.mark.parametrize("command", [["parameters"], ["outputs"], ["drugs"]])
def test_listing_commands_render_citations(capsys, command):
    assert main(command) == 0
    out = capsys.readouterr().out
    assert not BARE_KEY.search(out), BARE_KEY.search(out)
    assert "Cheng et al. 2022" in out


def test_validation_report_renders_citations():
    table = format_table([CheckResult(c, 0.0) for c in checks()])
    assert not BARE_KEY.search(table)
    assert "Cheng et al. 2022" in table and "Magnesium review" in table
