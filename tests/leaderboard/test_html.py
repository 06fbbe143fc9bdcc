"""The HTML report renders in a real browser (headless Chromium, when installed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchbase.cli import main

CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_report_renders_in_headless_chromium(accuracy_store: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    argv = ["leaderboard", "--out", str(accuracy_store), "--format", "html", "--to", str(page)]
    assert main([*argv, "--resamples", "50"]) == 0
    shot = tmp_path / "shot.png"
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1400,2000",
        f"--screenshot={shot}",
        page.as_uri(),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    with Image.open(shot) as img:
        pixels = np.asarray(img.convert("L"), dtype=np.float32)
    assert pixels.shape == (2000, 1400)
    dark = (pixels < 128).mean()
    assert 0.002 < dark < 0.5, f"screenshot looks blank or broken (dark fraction {dark:.4f})"
    assert pixels.std() > 10


def test_report_is_self_contained(accuracy_store: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    argv = ["leaderboard", "--out", str(accuracy_store), "--format", "html", "--to", str(page)]
    assert main([*argv, "--no-ci"]) == 0
    text = page.read_text()
    assert "<img" in text and 'src="data:image/png;base64,' in text
    assert 'src="http' not in text and "<link" not in text
