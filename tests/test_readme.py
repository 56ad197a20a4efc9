"""The README's set-up commands and .ci/run agree, and the first screen has exactly two."""

from __future__ import annotations

import re

from conftest import ROOT


def _first_screen() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("\n## ", 1)[0]


def test_first_screen_has_exactly_two_setup_commands() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", _first_screen(), flags=re.S)
    assert len(blocks) == 2
    install_and_run, install_and_test = (b.strip() for b in blocks)
    assert "pip install ." in install_and_run
    assert "brooker grade sample_images/" in install_and_run
    assert '".[test]"' in install_and_test
    assert "pytest" in install_and_test


def test_ci_runs_the_readme_test_command() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", _first_screen(), flags=re.S)
    test_command = blocks[1].strip()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()


def test_the_error_codes_say_longer_native_pixel_data_is_a_caveat() -> None:
    """The loader reads uncompressed pixel data longer than Rows x Columns need as declared,
    with a caveat (tests/test_dicom_io.py); the README's size_mismatch row said such data was
    refused."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| `size_mismatch` |"))
    assert "Uncompressed pixel data longer than Rows x Columns need" in row
    assert "not refused but read as declared, with a caveat" in row
    assert "not what the data" not in row
