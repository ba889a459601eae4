"""Share links: the whole graph in the URL, compact, like TF Playground.

A token is a version letter followed by the graph as compact JSON,
zlib-compressed and base64url-encoded without padding. It carries the
nodes, edges, name, outputs, groups, the `compile` and `training` settings and the `search` space; not
the canvas layout or other optional fields. Tokens come from strangers, so
`decode` bounds every step (token length, decompressed size, JSON depth)
and refuses anything else with one clear line.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
import zlib

from builder.model.graph import FORMAT, VERSION, Graph, GraphError, GraphFormatError

TOKEN_VERSION = "1"  # the token layout; its payload is a version-1 graph file
QUERY_KEY = "g"
MAX_TOKEN = 100_000  # characters
MAX_JSON = 2_000_000  # bytes after decompression: refuses zlib bombs
SHARED_FIELDS = ("name", "nodes", "edges", "outputs", "groups", "compile", "training", "search")
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


class ShareLinkError(GraphError):
    """A share link that cannot be read; the message is one line for the user."""


def encode(graph: Graph) -> str:
    """The URL-safe token for a graph.

    Returns:
        `"1"` + base64url(zlib(compact JSON)), without padding.
    """
    data = graph.to_dict()
    # format and version are implied by the token's version letter.
    payload = {k: data[k] for k in SHARED_FIELDS if k in data}
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    packed = zlib.compress(text.encode("utf-8"), 9)
    return TOKEN_VERSION + base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def decode(token: str) -> Graph:
    """The graph in a share token.

    Raises:
        ShareLinkError: The token is empty, too long, of another version,
            damaged, too large once unpacked, or does not hold a valid graph.
    """
    if not isinstance(token, str) or not token.strip():
        raise ShareLinkError("the share link is empty: it has no graph in it")
    token = token.strip()
    if len(token) > MAX_TOKEN:
        raise ShareLinkError(f"the share link is too long ({len(token):,} characters; at most {MAX_TOKEN:,})")
    version, body = token[0], token[1:]
    if version != TOKEN_VERSION:
        if version.isdigit():
            raise ShareLinkError(
                f"this share link is version {version}, made by a newer LayerCanvas; this one reads version {TOKEN_VERSION}"
            )
        raise ShareLinkError("this is not a LayerCanvas share link: it does not start with a version number")
    if not body or not _B64URL.match(body) or len(body) % 4 == 1:
        raise ShareLinkError("the share link is damaged: it is not valid base64url (was it cut or changed?)")
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise ShareLinkError("the share link is damaged: it is not valid base64url (was it cut or changed?)") from None
    data = _decompress(packed)
    try:
        payload = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise ShareLinkError("the share link is damaged: its content is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise ShareLinkError(f"the share link is damaged: its content is not valid JSON ({e.msg})") from None
    except (RecursionError, ValueError) as e:
        raise ShareLinkError(f"the share link is damaged: its content is not valid JSON ({_one_line(e)})") from None
    if not isinstance(payload, dict):
        raise ShareLinkError("the share link does not hold a graph: expected a JSON object")
    # Keep only what encode writes: a crafted link cannot smuggle other fields in.
    data_dict = {"format": FORMAT, "version": VERSION}
    data_dict.update({k: payload[k] for k in SHARED_FIELDS if k in payload})
    try:
        return Graph.from_dict(data_dict)
    except GraphFormatError as e:
        raise ShareLinkError(f"the share link holds an invalid graph: {_one_line(e)}", e.node_id) from None
    except RecursionError:
        raise ShareLinkError("the share link holds an invalid graph: it is nested too deeply") from None


def link(base_url: str, graph: Graph) -> str:
    """`base_url` with `?g=TOKEN` (other query parameters and the fragment kept)."""
    parts = urllib.parse.urlsplit(base_url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k != QUERY_KEY]
    query.append((QUERY_KEY, encode(graph)))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _decompress(packed: bytes) -> bytes:
    """zlib-inflates with a hard cap, so a small token cannot unpack into gigabytes."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(packed, MAX_JSON + 1)
    except zlib.error:
        raise ShareLinkError("the share link is damaged: its data does not unpack (was it cut or changed?)") from None
    if len(out) > MAX_JSON or d.unconsumed_tail:
        raise ShareLinkError(f"the share link unpacks to more than {MAX_JSON // 1_000_000} MB: refused")
    if not d.eof:
        raise ShareLinkError("the share link is incomplete: its data ends early (was it cut?)")
    if d.unused_data:
        raise ShareLinkError("the share link is damaged: it has extra data after the graph")
    return out


def _no_constant(name: str):
    raise ValueError(f"{name} is not allowed")


def _one_line(e: Exception, limit: int = 400) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
