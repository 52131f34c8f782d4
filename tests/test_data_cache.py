"""Parsed packaged data is cached (``boneturnover.files.load_toml_cached``): keyed by the
text, so an edited file parses afresh; a broken cache file is ignored."""

from __future__ import annotations

import tomllib

import pytest

from boneturnover import files

TEXT = 'title = "x"\n[a]\nvalue = 1.5\ncite = [{ ref = "expert", evidence = "expert-opinion" }]\n'


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(files.CACHE_ENV, str(tmp_path))
    monkeypatch.delenv(files.NO_DATA_CACHE_ENV, raising=False)
    return tmp_path / "data"


def test_second_load_reads_the_cache(cache, monkeypatch):
    first = files.load_toml_cached(TEXT, "t.toml")
    assert first == tomllib.loads(TEXT)
    (entry,) = cache.glob("*.marshal")
    monkeypatch.setattr(tomllib, "loads", lambda *_: pytest.fail("parsed again"))
    assert files.load_toml_cached(TEXT, "t.toml") == first
    assert list(cache.glob("*.marshal")) == [entry]
    assert not list(cache.glob(".*.tmp"))  # written atomically, nothing left behind


def test_an_edited_text_parses_afresh(cache):
    files.load_toml_cached(TEXT, "t.toml")
    edited = TEXT.replace("1.5", "2.5")
    assert files.load_toml_cached(edited, "t.toml")["a"]["value"] == 2.5
    assert len(list(cache.glob("*.marshal"))) == 2


def test_a_broken_cache_file_is_ignored(cache):
    files.load_toml_cached(TEXT, "t.toml")
    (entry,) = cache.glob("*.marshal")
    entry.write_bytes(b"\x00garbage")
    assert files.load_toml_cached(TEXT, "t.toml") == tomllib.loads(TEXT)


def test_dates_are_not_cached_and_syntax_errors_still_raise(cache):
    assert files.load_toml_cached("d = 2024-01-05\n")["d"].isoformat() == "2024-01-05"
    assert not cache.exists() or not list(cache.glob("*.marshal"))
    with pytest.raises(tomllib.TOMLDecodeError):
        files.load_toml_cached("a = = 1\n")


def test_cache_can_be_turned_off(cache, monkeypatch):
    monkeypatch.setenv(files.NO_DATA_CACHE_ENV, "1")
    assert files.load_toml_cached(TEXT) == tomllib.loads(TEXT)
    assert not cache.exists()


def test_packaged_catalogues_from_the_cache_equal_a_fresh_parse(tmp_path):
    """The catalogues built from cached tables are those built from the TOML files."""
    import subprocess
    import sys

    code = ("from boneturnover.knowledge.markers import marker_catalog\n"
            "from boneturnover.clinical.rules import RULES\n"
            "c = marker_catalog()\n"
            "print(repr(sorted((k, m.lsc_pct, m.units) for k, m in c.items())), len(RULES))\n")
    env_cached = {"BONETURNOVER_CACHE_DIR": str(tmp_path), "PATH": ""}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={**env_cached, **extra}).stdout
            for extra in ({}, {}, {"BONETURNOVER_NO_DATA_CACHE": "1"})]
    assert runs[0] == runs[1] == runs[2]
    assert list((tmp_path / "data").glob("*.marshal"))
