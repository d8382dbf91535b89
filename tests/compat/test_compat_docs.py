"""docs/pytorch-compat.md's tables are true: every torch name that the page lists as provided
resolves under ember.compat.install(), and every name it lists as not provided is refused with
the "not provided" error. (Its examples run in tests/test_docs.py.)"""
import functools
import importlib
import inspect
import pathlib
import re

import pytest

PAGE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "pytorch-compat.md"


def _table_names(heading):
    """The backquoted names in the table under ``## heading``."""
    text = PAGE.read_text()
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [name for row in rows for name in re.findall(r"`([\w.]+)`", row)]


PROVIDED = _table_names("What is provided")
NOT_PROVIDED = _table_names("Not provided")


def _resolve(torch_module, name):
    """``torch.a.b.c`` as a script reaches it: attribute by attribute from ``import torch``
    (``torchvision`` imported where the name starts with it)."""
    top, *path = name.split(".")
    start = torch_module if top == "torch" else importlib.import_module(top)
    return functools.reduce(getattr, path, start)


def test_the_tables_list_names():
    assert len(PROVIDED) > 80
    assert len(NOT_PROVIDED) >= 10
    assert not set(PROVIDED) & set(NOT_PROVIDED)


@pytest.mark.parametrize("name", PROVIDED)
def test_a_provided_name_resolves(ember_torch, name):
    value = _resolve(ember_torch, name)
    assert value is not None or name.endswith(("benchmark", "allow_tf32"))
    module = getattr(value, "__module__", None) or getattr(value, "__name__", "")
    if str(module).startswith("torch"):  # a class reports the torch module it is imported from
        module = inspect.getfile(value if isinstance(value, type) else type(value))
    assert "ember" in str(module) or not callable(value)


@pytest.mark.parametrize("name", NOT_PROVIDED)
def test_a_name_not_provided_is_refused_naming_it(ember_torch, name):
    with pytest.raises(AttributeError, match=re.escape(f"{name} is not provided by ember")):
        _resolve(ember_torch, name)
    if "." not in name.partition(".")[2]:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            assert str(error) == f"{name} is not provided by ember"
        else:
            pytest.fail(f"import {name} gave {module}")
