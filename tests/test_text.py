"""User text in Streamlit's Markdown shows as its characters: no image, link, colour, maths or HTML."""

from __future__ import annotations

import re

import pytest

from ui.text import JOINER, plain


@pytest.mark.parametrize("value", [
    "![x](http://attacker.invalid/pixel.png)", "[Re-login here](https://attacker.invalid/login)",
    '<img src="http://attacker.invalid/x.png">', ":red[alarm] :material/home: $x^2$", "**bold** _it_ `code`",
    "# heading", "- item", "1. item", "a | b", "&lt;b&gt;", "see www.attacker.invalid", "mail a@attacker.invalid",
])
def test_markdown_and_links_are_neutralised(value):
    shown = plain(value)
    # every Markdown-significant character is backslash-escaped ...
    assert not re.search(r"(?<!\\)[\[\]()!<>*_`#|$:&]", shown.replace(JOINER, ""))
    # ... and no bare URL or e-mail address is left for the autolinker
    assert not re.search(r"(https?:|ftp:)//|www\\\.|\w@\w", shown)
    # the reader sees exactly the characters typed
    assert re.sub(r"\\(.)", r"\1", shown).replace(JOINER, "") == value


def test_version_references_and_lines_stay_readable():
    assert plain("default@2") == "default@2"
    assert plain("Approved default@2.") == "Approved default@2\\."
    assert plain("two\nlines") == "two  \nlines"
    assert plain(None) == ""
