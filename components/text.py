"""Showing user text safely: as literal text, never as Markdown or HTML."""

LABEL_LIMIT = 80  # characters of user text in a label (a graph file may hold a layer type of megabytes)


def clip(text, limit: int = LABEL_LIMIT) -> str:
    """`text` cut to `limit` characters, with "…" when it was longer."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"

_MD_SPECIALS = set("\\`*_{}[]()#+-.!|~$\"'")


def md_escape(text: str) -> str:
    """Text that a Markdown renderer (even one allowing raw HTML) shows literally, on one line."""
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
    return "".join(out)
