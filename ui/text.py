"""User data shown as text: names, notes, values and paths never become markup.

Streamlit renders messages, captions and labels as Markdown (images, links, colours,
icons, maths). Every string that comes from users or their data goes through
:func:`plain` before it is put into such text, so ``![x](http://host/pixel.png)`` shows
as those characters and the browser fetches nothing.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>:$~=^&\"'])")
JOINER = "\u2060"
"""An invisible word joiner: it keeps 'http://', 'www.' and 'name@host' in user text from being
turned into links (GitHub-flavoured Markdown links them even when every character is escaped)."""
_AUTOLINK = re.compile(r"(:)(?=\\?/)|(?<=www)(?=\\\.)|(?=@[^\s@]*\\\.[a-z])", re.IGNORECASE)


def plain(value: object) -> str:
    """``value`` as Markdown that renders as exactly its characters (one line per line), no link."""
    text = "" if value is None else str(value)
    escaped = _SPECIAL.sub(r"\\\1", text)
    escaped = _AUTOLINK.sub(lambda m: (m.group(1) or "") + JOINER, escaped)
    return escaped.replace("\n", "  \n")
