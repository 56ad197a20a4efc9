"""Every example in brooker's docstrings runs as shown (``python -m doctest``-style), in a
scratch folder: an example is what a user copies first."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import brooker


def _modules() -> list[str]:
    # not the ``__main__`` modules: importing one runs the program
    return sorted(
        m.name
        for m in pkgutil.walk_packages(brooker.__path__, prefix="brooker.")
        if not m.name.endswith(".__main__")
    )


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # an example that writes files writes them here
    try:
        module = importlib.import_module(name)
    except ImportError as exc:  # an optional extra (Dask) not installed
        pytest.skip(str(exc))
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert not any(tmp_path.iterdir())  # and none does
