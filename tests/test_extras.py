"""Every install hint (outside this file) names an extra that pyproject.toml defines, in the form that works for a
package installed from its checkout (ember is not on a package index)."""
import pathlib
import re

import pytest

from ember._extras import install_hint

tomllib = pytest.importorskip("tomllib")

REPO = pathlib.Path(__file__).resolve().parent.parent
SOURCES = ["README.md", "Makefile", ".ci/run", "docs", "ember", "tests", "benchmarks",
           "examples"]
# pip install '.[a,b]' or -e '.[a]' (quoted or not), and install_hint('a') in the code.
HINT = re.compile(r"pip install (?:-\w+ )*'?\.\[([\w,-]+)\]'?"
                  r"|install_hint\(['\"]([\w-]+)['\"]\)")


def _extras():
    with open(REPO / "pyproject.toml", "rb") as file:
        return set(tomllib.load(file)["project"]["optional-dependencies"])


def _texts():
    for name in SOURCES:
        path = REPO / name
        files = [path] if path.is_file() else sorted(path.rglob("*")) if path.is_dir() else []
        for file in files:
            if file.is_file() and file.suffix in (".py", ".md", ".toml", "") and \
                    "__pycache__" not in file.parts and file != pathlib.Path(__file__):
                yield file.relative_to(REPO), file.read_text(errors="replace")


def test_install_hint_names_the_checkout_extra():
    assert install_hint("vision") == "pip install '.[vision]' in the ember checkout"


def test_every_hinted_extra_exists_in_pyproject():
    extras = _extras()
    named = {}
    for path, text in _texts():
        for match in HINT.finditer(text):
            for extra in (match.group(1) or match.group(2)).split(","):
                named.setdefault(extra, []).append(str(path))
    assert {"demo", "mpi", "test", "vision", "onnx", "tensorboard", "sparse"} <= set(named)
    unknown = {extra: paths for extra, paths in named.items() if extra not in extras}
    assert not unknown, f"extras not in pyproject.toml: {unknown}"


def test_readme_lists_every_extra():
    readme = (REPO / "README.md").read_text()
    missing = sorted(extra for extra in _extras() if f"'.[{extra}]'" not in readme)
    assert not missing, f"README.md does not show how to install the extras {missing}"


def test_no_hint_installs_ember_from_an_index():
    # 'ember[...]' would ask pip for a package index entry that does not exist.
    pattern = re.compile(r"pip install (?:-\w+ )*'?ember\b")
    wrong = [str(path) for path, text in _texts()
             if pattern.search(text) or "'ember[" in text or "`ember[" in text]
    assert not wrong, wrong
