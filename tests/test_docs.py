"""The README's optimizer table is the registry's, and the docstring examples run."""

import doctest
import importlib
import pathlib
import pkgutil

import pytest

import brainoptim
from brainoptim.registry import markdown_table

README = pathlib.Path(__file__).parents[1] / "README.md"


def test_readme_optimizer_table_is_generated_from_the_registry():
    assert markdown_table() in README.read_text(), (
        "update README.md from brainoptim.registry.markdown_table()"
    )


def _modules():
    for info in pkgutil.walk_packages(brainoptim.__path__, "brainoptim."):
        if ".compare" in info.name or info.name.endswith(("cli", "__main__")):
            continue
        yield info.name


@pytest.mark.parametrize("name", list(_modules()))
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_readme_example_runs():
    text = README.read_text()
    start = text.index("```python", text.index("## Example")) + len("```python")
    code = text[start : text.index("```", start)]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["opt"].lr.last_epoch == 20
