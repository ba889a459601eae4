"""Share links: round trips, compactness, and hostile tokens refused cleanly."""

import base64
import json
import re
import urllib.parse
import zlib
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.model.graph import GraphError, GraphFormatError
from builder.model.layout import auto_layout
from builder.model.share import MAX_JSON, MAX_TOKEN, ShareLinkError, decode, encode, link
from builder.model.templates import TEMPLATES, template

URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def token_of(payload) -> str:
    """A well-formed token around arbitrary JSON (or raw bytes)."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return "1" + base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")


def shared_part(g):
    """What a link carries: everything but the layout and extras other than compile/training/search."""
    return replace(g, layout={}, extra={k: v for k, v in g.extra.items() if k in ("compile", "training", "search")})


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_template_round_trips(key):
    g = auto_layout(template(key))
    token = encode(g)
    assert URL_SAFE.match(token) and token[0] == "1" and "=" not in token
    assert decode(token) == shared_part(g)
    assert encode(decode(token)) == token  # stable


def test_compile_and_training_settings_travel_and_other_extras_do_not():
    g = template("cifar_cnn")
    space = {"space": {"conv1.filters": {"values": [16, 32]}}, "tuner": "bayesian"}
    g = replace(g, extra={**g.extra, "compile": {"optimizer": "adam", "learning_rate": 0.001}, "x_private": [1, 2],
                          "search": space})
    again = decode(encode(g))
    assert again.extra == {"compile": {"optimizer": "adam", "learning_rate": 0.001}, "training": {"dataset": "cifar10"},
                           "search": space}
    assert again.layout == {}


def test_frozen_layers_ports_outputs_and_node_extras_survive():
    g = template("two_inputs").set_trainable("conv", False).set_outputs(["head", "hidden"])
    g = replace(g, nodes=tuple(replace(n, extra={"note": "ünïcode ✓"}) if n.id == "flat" else n for n in g.nodes))
    assert decode(encode(g)) == shared_part(g)


def test_cifar_token_is_short():
    assert len(encode(template("cifar_cnn"))) < 600
    assert len(encode(auto_layout(template("cifar_cnn")))) < 600  # the layout is not sent


def test_link_adds_the_token_and_keeps_the_rest_of_the_url():
    g = template("mlp")
    url = link("https://example.org/app/build?lang=en&g=old#top", g)
    parts = urllib.parse.urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == ("https", "example.org", "/app/build", "top")
    query = urllib.parse.parse_qs(parts.query)
    assert query == {"lang": ["en"], "g": [encode(g)]}
    assert decode(query["g"][0]) == shared_part(g)
    assert link("http://localhost:8501", g) == "http://localhost:8501?g=" + encode(g)


# -- hostile tokens -------------------------------------------------------------
def refused(token) -> str:
    with pytest.raises(ShareLinkError) as info:
        decode(token)
    message = str(info.value)
    assert message and "\n" not in message and "Traceback" not in message and len(message) < 500
    assert isinstance(info.value, GraphError)
    return message


@pytest.mark.parametrize("token, words", [
    ("", "empty"),
    ("   ", "empty"),
    (None, "empty"),
    ("1", "damaged"),
    ("9" + encode(template("mlp"))[1:], "version 9"),
    ("x" + encode(template("mlp"))[1:], "not a LayerCanvas share link"),
    ("1abc$def", "base64url"),
    ("1abcde", "base64url"),  # a length base64 cannot have
    ("1" + "A" * 40, "does not unpack"),
])
def test_malformed_tokens_are_refused_with_a_clear_line(token, words):
    assert words in refused(token)


def test_a_truncated_token_is_refused():
    token = encode(template("inception_block"))
    for cut in (len(token) - 1, len(token) - 7, len(token) // 2, 5):
        message = refused(token[:cut])
        assert "cut" in message or "damaged" in message


def test_random_bytes_are_refused():
    import random

    rng = random.Random(7)
    for _ in range(50):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        refused("1" + base64.urlsafe_b64encode(raw).decode().rstrip("="))


def bomb_token(size: int) -> str:
    packer = zlib.compressobj(9)
    chunk = b" " * 1_000_000
    raw = b"".join(packer.compress(chunk) for _ in range(size // len(chunk))) + packer.flush()
    return "1" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_zlib_bomb_is_refused_without_unpacking_it():
    # 100 MB of spaces packs to about 130,000 characters: over the length cap.
    assert "too long" in refused(bomb_token(100_000_000))
    # 60 MB fits under the length cap: the stream is cut off at MAX_JSON + 1 bytes.
    token = bomb_token(60_000_000)
    assert len(token) < MAX_TOKEN
    assert "more than 2 MB" in refused(token)
    assert "more than" in refused(token_of(b" " * (MAX_JSON + 1)))
    assert "not valid JSON" in refused(token_of(b" " * MAX_JSON))  # exactly at the cap: unpacked, then judged


def test_an_overlong_token_is_refused_before_any_work():
    assert "too long" in refused("1" + "A" * MAX_TOKEN)


def test_trailing_data_after_the_stream_is_refused():
    raw = zlib.compress(b'{"nodes":[]}') + b"junk"
    assert "extra data" in refused("1" + base64.urlsafe_b64encode(raw).decode().rstrip("="))


@pytest.mark.parametrize("payload, words", [
    (b"\xff\xfe not utf8", "UTF-8"),
    (b"{not json", "not valid JSON"),
    (b'{"nodes": [NaN]}', "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "JSON"),
    ([1, 2, 3], "expected a JSON object"),
    ("a graph", "expected a JSON object"),
    ({"nodes": "many"}, '"nodes" must be a list'),
    ({"nodes": [{"id": "ok", "type": "Input"}], "edges": [{"source": "ok", "target": "nowhere"}]}, "does not exist"),
    ({"nodes": [{"id": "1; import os", "type": "Dense"}]}, "invalid id"),
    ({"nodes": [{"id": "x\ny", "type": "Dense"}]}, "invalid id"),
    ({"name": "</script><script>alert(1)</script>", "nodes": []}, "cannot contain '/'"),
])
def test_well_packed_tokens_with_bad_content_are_refused(payload, words):
    message = refused(token_of(payload))
    assert words in message


def test_graph_format_messages_are_passed_on():
    bad = {"nodes": [{"id": "in", "type": "Input"}, {"id": "in", "type": "Dense"}]}
    with pytest.raises(GraphFormatError) as expected:
        from builder.model.graph import Graph

        Graph.from_dict({"format": "layercanvas-graph", "version": 1, **bad})
    assert str(expected.value) in refused(token_of(bad))


def test_an_id_ending_in_a_newline_is_refused():
    refused(token_of({"nodes": [{"id": "x\n", "type": "Input", "params": {"shape": [2]}}]}))


def test_markup_in_a_link_survives_as_plain_data():
    payload = {
        "name": "<img src=x onerror=alert(1)>",
        "nodes": [{"id": "x", "type": "Input", "params": {"shape": [2]}, "note": "</script><b>hi</b>"}],
        "compile": {"loss": "</script><script>alert(1)</script>"},
        "layout": {"x": [1, 2]}, "x_extra": "<svg onload=alert(1)>",
    }
    g = decode(token_of(payload))
    assert g.name == "<img src=x onerror=alert(1)>"
    assert g.node("x").extra == {"note": "</script><b>hi</b>"}
    assert g.extra == {"compile": {"loss": "</script><script>alert(1)</script>"}}  # x_extra dropped
    assert g.layout == {}
    assert URL_SAFE.match(encode(g))  # and the token itself holds no markup


def test_a_token_claiming_a_newer_graph_version_inside_is_read_as_version_1():
    g = template("mlp")
    payload = {**json.loads(g.dumps()), "format": "evil", "version": 99}
    assert decode(token_of(payload)) == shared_part(g)


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(max_size=200),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", max_size=300).map(lambda s: "1" + s),
    st.binary(max_size=300).map(lambda b: "1" + base64.urlsafe_b64encode(zlib.compress(b)).decode().rstrip("=")),
    st.binary(max_size=300).map(lambda b: "1" + base64.urlsafe_b64encode(b).decode().rstrip("=")),
))
def test_random_strings_only_ever_raise_share_link_error(token):
    try:
        g = decode(token)
    except ShareLinkError as e:
        assert str(e) and "\n" not in str(e)
    else:
        assert decode(encode(g)) == g


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(TEMPLATES)), st.data())
def test_mangled_template_tokens_only_ever_raise_share_link_error(key, data):
    token = list(encode(template(key)))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(1, len(token) - 1))
        token[i] = data.draw(st.sampled_from("ABCXYZabcxyz0189_-"))
    try:
        decode("".join(token))
    except ShareLinkError:
        pass


def test_groups_travel_in_the_link():
    g, gid = template("small_resnet").group(["b1_conv1", "b1_conv2", "b1_add"], name="Block 1")
    g = g.set_group_collapsed(gid, True)
    back = decode(encode(g))
    assert back.groups == g.groups and back.groups[0].collapsed and back.groups[0].name == "Block 1"
