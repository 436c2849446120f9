"""User data shown as text: names, notes, values and paths never become markup.

Streamlit renders messages, captions and labels as Markdown (images, links, colours,
icons, maths). Every string that comes from users or their data goes through
:func:`plain` before it is put into such text, so ``![x](http://host/pixel.png)`` shows
as those characters and the browser fetches nothing.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>:$~=^&\"'])")


def plain(value: object) -> str:
    """``value`` as Markdown that renders as exactly its characters (one line per line)."""
    text = "" if value is None else str(value)
    return _SPECIAL.sub(r"\\\1", text).replace("\n", "  \n")
