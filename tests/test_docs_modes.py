"""docs/modes.md stays true: every ```python block runs, and what it prints equals the ```text
block that follows it."""
import contextlib
import io
import pathlib
import re

import pytest

import ember

DOCUMENT = pathlib.Path(__file__).resolve().parent.parent / "docs" / "modes.md"
_BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def _examples():
    """(code, expected output or None) for each python block, in document order."""
    blocks = [(match.group(1), match.group(2)) for match in _BLOCK.finditer(DOCUMENT.read_text())]
    examples = []
    for index, (language, body) in enumerate(blocks):
        if language != "python":
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        expected = following[1] if following is not None and following[0] == "text" else None
        examples.append((body, expected))
    return examples


EXAMPLES = _examples()


def test_the_document_has_checked_examples():
    assert len(EXAMPLES) >= 7
    assert all(expected is not None for _, expected in EXAMPLES)


@pytest.mark.parametrize("code, expected", EXAMPLES,
                         ids=[f"example{number}" for number in range(1, len(EXAMPLES) + 1)])
def test_example_prints_what_the_document_says(code, expected):
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            exec(compile(code, str(DOCUMENT), "exec"), {"__name__": "__docs__"})
    finally:
        ember.set_mode_checks(True)
    assert output.getvalue() == expected
