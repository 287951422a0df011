"""The quick examples run as scripts (the tutorial port and tune_lr.py take minutes
and are run by hand; `brainoptim compare` covers the same code in test_compare)."""

import pathlib
import runpy
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).parents[1] / "examples"


@pytest.mark.parametrize("name", ["constrained_scipy.py"])
def test_example_runs(name, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [name])
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    assert capsys.readouterr().out


def test_custom_optimizer_example_learns(capsys):
    module = runpy.run_path(str(EXAMPLES / "custom_optimizer.py"))
    # Digits with 10 classes: chance is 10%; two epochs are far above it.
    assert module["main"](epochs=2) > 0.8
