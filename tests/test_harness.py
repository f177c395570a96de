"""The recording fake refuses what Telegram refuses, so escaping bugs fail tests."""

from __future__ import annotations

import pytest

from tests.harness.telegram import html_error


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "<b>bold</b> &amp; &lt;tag&gt;",
        "a &#39; b",
        '<a href="https://x">x</a>',
        "<b><i>x</i></b>",
    ],
)
def test_valid_html_accepted(text: str) -> None:
    assert html_error(text) is None


@pytest.mark.parametrize(
    "text", ["Amina <Ben>", "Tom & Jerry", "<b>open", "x < y", "<i>a</b>", "/promote <id>"]
)
def test_invalid_html_refused(text: str) -> None:
    assert html_error(text) is not None
