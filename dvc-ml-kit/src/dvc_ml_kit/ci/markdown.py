"""Text that stays what it is inside Markdown: table cells and inline code that no name breaks.

The report (``render.py``) and its Data section (``drift.py``) write names through these.
"""

import re


def cell(text: object) -> str:
    """``text`` as a markdown table cell: on one line, its pipes escaped (GFM)."""
    return re.sub(r"[\r\n]+", " ", str(text)).replace("|", "\\|")


def code(text: object) -> str:
    """``text`` as inline code that no name can break, in a table cell too: a fence longer than
    any run of backticks in it, and a space inside the fence where it starts or ends with one."""
    text = cell(text)
    if not text.strip():
        return "(blank)"
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if text[0] == "`" or text[-1] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"
