"""Writing reports: atomic file writes, and HTML to PDF or PNG with headless Chromium.

The browser is ``$BONETURNOVER_CHROMIUM`` if set, else ``chromium`` or
``chromium-browser`` (or ``google-chrome``) on ``PATH``; without one
:class:`BrowserNotFoundError` (an :class:`~boneturnover.errors.InputError`: the CLI
prints it on one line and exits 2) says how to get one. Each run gets a fresh profile
directory and no background networking.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import BoneTurnoverError, InputError
from ..files import atomic_write_bytes

__all__ = ["BrowserNotFoundError", "RenderError", "find_chromium", "write_atomic",
           "html_to_pdf", "html_to_png", "CHROMIUM_ENV", "CHROMIUM_FLAGS"]

#: Environment variable naming the Chromium executable.
CHROMIUM_ENV = "BONETURNOVER_CHROMIUM"
_NAMES = ("chromium", "chromium-browser", "google-chrome")
#: Flags of every run (plus ``--user-data-dir`` of a fresh temporary directory).
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--disable-extensions", "--hide-scrollbars", "--mute-audio")


class BrowserNotFoundError(InputError):
    """No Chromium to render the PDF with."""


class RenderError(BoneTurnoverError, RuntimeError):
    """Chromium ran but produced no output."""


def find_chromium() -> str:
    """Path of the Chromium executable (see the module doc)."""
    env = os.environ.get(CHROMIUM_ENV)
    if env:
        path = shutil.which(env)
        if path is None:
            raise BrowserNotFoundError(
                f"{CHROMIUM_ENV}={env!r} is not an executable; point it at Chromium "
                "or unset it to search PATH")
        return path
    for name in _NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise BrowserNotFoundError(
        "PDF output needs headless Chromium and none was found on PATH (chromium, "
        f"chromium-browser): install it (Debian: apt-get install chromium fonts-noto-cjk) "
        f"or set {CHROMIUM_ENV}, or use --format html")


def _target(path: str | os.PathLike[str]) -> Path:
    out = Path(path)
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise InputError(f"cannot write {out}: folder {out.parent} does not exist")
    if out.is_dir():
        raise InputError(f"cannot write {out}: it is a folder")
    return out


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and
    :func:`os.replace`: a reader sees the old file or the new one, never a part."""
    out = _target(path)
    atomic_write_bytes(out, data.encode("utf-8") if isinstance(data, str) else data)
    return out


def _run(html: str, out: Path, flags: list[str], *, timeout: float) -> None:
    """Render ``html`` with ``flags`` that write ``out`` (a temporary file) or fail."""
    exe = find_chromium()
    with tempfile.TemporaryDirectory(prefix="boneturnover-chromium-") as work:
        page = Path(work) / "report.html"
        page.write_text(html, "utf-8")
        profile = Path(work) / "profile"
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *flags,
               page.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired:
            raise RenderError(f"Chromium did not finish within {timeout:.0f} s") from None
        except OSError as exc:
            raise BrowserNotFoundError(f"cannot run {exe}: {exc}") from None
    if proc.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        tail = " ".join(proc.stderr.strip().splitlines()[-2:])[:300]
        raise RenderError(f"Chromium ({exe}) exited {proc.returncode} without output: {tail}")


def _rendered(path: str | os.PathLike[str], html: str, flags: list[str], timeout: float
              ) -> Path:
    out = _target(path)
    # Chromium picks the format from the suffix: the temporary file keeps it.
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=f".tmp{out.suffix}",
                               dir=out.parent or ".")
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.unlink()  # Chromium creates it; an empty leftover would look like output
    try:
        _run(html, tmp_path, [f.format(out=tmp_path) for f in flags], timeout=timeout)
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, out)
    finally:
        tmp_path.unlink(missing_ok=True)
    return out


def html_to_pdf(html: str, path: str | os.PathLike[str], *, timeout: float = 120) -> Path:
    """Print ``html`` to the PDF ``path`` (A4 unless the page's CSS says otherwise),
    atomically: ``path`` is replaced only by a complete PDF."""
    return _rendered(path, html, ["--print-to-pdf={out}", "--no-pdf-header-footer",
                                  "--print-to-pdf-no-header"], timeout)


def html_to_png(html: str, path: str | os.PathLike[str], *, width: int = 1000,
                height: int = 1400, timeout: float = 120) -> Path:
    """Screenshot of ``html`` at ``width`` x ``height`` CSS pixels into ``path``."""
    return _rendered(path, html, ["--screenshot={out}", f"--window-size={width},{height}"],
                     timeout)
