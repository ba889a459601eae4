"""Showing user text safely: as literal text, never as Markdown or HTML."""

import re

LABEL_LIMIT = 80  # characters of user text in a label (a graph file may hold a layer type of megabytes)


def clip(text, limit: int = LABEL_LIMIT) -> str:
    """`text` cut to `limit` characters, with "…" when it was longer."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_MD_SPECIALS = set("\\`*_{}[]()#+-.!|~$\"'")
# Streamlit's Markdown adds its own syntax after a colon: icons (`:material/delete:`), emoji (`:smile:`),
# colours and badges (`:red[x]`, even `:red` alone). A backslash does not stop the icons; a colon written
# as `&#58;` stops all of these and still shows ":".
_SHORTCODE_COLON = re.compile(r":(?=[\w+\\-])")
# `:streamlit:` (the logo) is matched in the text after entities are read: a word joiner (invisible) breaks it.
_LOGO = re.compile(r"(?i)(&#58;stream)(lit)")


def md_escape(text: str) -> str:
    """Text that a Markdown renderer (even one allowing raw HTML, or Streamlit's own shortcodes) shows
    literally, on one line."""
    out = []
    for ch in str(text):
        if ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "&":
            out.append("&amp;")
        elif ch in _MD_SPECIALS:
            out.append("\\" + ch)
        elif ch in "\r\n":
            out.append(" ")
        else:
            out.append(ch)
    return _LOGO.sub("\\1\u2060\\2", _SHORTCODE_COLON.sub("&#58;", "".join(out)))
