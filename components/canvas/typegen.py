"""Writes the canvas's TypeScript types (frontend/src/types.ts) from its wire schema (schema.json).

The schema is the one description of what Python sends the canvas and what the canvas sends back: canvas_data's
output and the events are checked against it in tests/test_canvas_schema.py, and the TypeScript reads the same
shapes through the types written here, so a field renamed on either side fails a test (or the type check).

    .venv/bin/python -m components.canvas.typegen          # rewrites frontend/src/types.ts
    .venv/bin/python -m components.canvas.typegen --check  # exits 1 when types.ts is not what the schema gives

It needs only the standard library, so scripts/check-bundle runs it as a file (python3 components/canvas/typegen.py).

Only the schema keywords the file uses are translated (type, const, enum, $ref, anyOf, oneOf, allOf, properties,
required, additionalProperties, items, prefixItems); anything else raises, so a new keyword is not silently lost.
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
SCHEMA = HERE / "schema.json"
TYPES = HERE / "frontend" / "src" / "types.ts"
# Keywords that only constrain values (checked by the schema, not expressible as TypeScript types) or document.
_IGNORED = {"description", "minimum", "minItems", "unevaluatedProperties", "title", "$schema", "$id", "$defs"}
_SCALARS = {"string": "string", "number": "number", "integer": "number", "boolean": "boolean", "null": "null"}


def load_schema() -> dict:
    """The canvas's wire schema (schema.json)."""
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


def typescript(schema: dict) -> str:
    """The TypeScript declarations for every definition in `schema["$defs"]`, in file order."""
    out = [
        "// Generated from components/canvas/schema.json by `python -m components.canvas.typegen`: do not edit.",
        "// What Python sends (components/canvas/__init__.py: canvas_data) and what the canvas sends back (events).",
    ]
    for name, sub in schema["$defs"].items():
        out.append("")
        if sub.get("description"):
            out.append(f"/** {sub['description']} */")
        body = _type(sub, top=True)
        sep = "" if body.startswith("\n") else " "  # a long union starts on the next line
        out.append(f"export type {name} ={sep}{body};")
    return "\n".join(out) + "\n"


def _type(s: Any, top: bool = False) -> str:
    if s is True or s == {}:
        return "unknown"
    unknown = set(s) - _IGNORED - {"type", "const", "enum", "$ref", "anyOf", "oneOf", "allOf", "properties",
                                   "required", "additionalProperties", "items", "prefixItems"}
    if unknown:
        raise ValueError(f"typegen: no TypeScript for schema keyword(s) {sorted(unknown)} in {s}")
    if "$ref" in s:
        return s["$ref"].rsplit("/", 1)[-1]
    if "const" in s:
        return json.dumps(s["const"], ensure_ascii=False)
    if "enum" in s:
        return " | ".join(json.dumps(v, ensure_ascii=False) for v in s["enum"])
    if "anyOf" in s or "oneOf" in s:
        members = s.get("anyOf") or s["oneOf"]
        if top and len(members) > 2:
            return "".join(f"\n  | {_type(m)}" for m in members)
        return " | ".join(_type(m) for m in members)
    if "allOf" in s:
        return " & ".join(_paren(_type(m)) for m in s["allOf"])
    types = s.get("type")
    if isinstance(types, list):
        return " | ".join(_type({**s, "type": t}, top) for t in types)
    if types in _SCALARS:
        return _SCALARS[types]
    if types == "array":
        if "prefixItems" in s:
            return "[" + ", ".join(_type(m) for m in s["prefixItems"]) + "]"
        return _paren(_type(s.get("items", {}))) + "[]"
    if types == "object":
        return _object(s, top)
    raise ValueError(f"typegen: no TypeScript for {s}")


def _object(s: dict, top: bool) -> str:
    props = s.get("properties")
    if not props:
        extra = s.get("additionalProperties", {})
        return f"Record<string, {_type({} if extra is True else extra)}>"
    required = set(s.get("required", ()))
    fields = []
    for name, sub in props.items():
        field = f"{name}{'' if name in required else '?'}: {_type(sub)}"
        fields.append((field, sub.get("description") if isinstance(sub, dict) else None))
    if not top:
        return "{ " + "; ".join(f for f, _ in fields) + " }"
    lines = [f"  {f};" + (f" // {d}" if d else "") for f, d in fields]
    return "{\n" + "\n".join(lines) + "\n}"


def _paren(t: str) -> str:
    return f"({t})" if "|" in t or "&" in t else t


def main(argv: list[str]) -> int:
    text = typescript(load_schema())
    if "--check" in argv:
        if TYPES.read_text(encoding="utf-8") != text:
            print(f"{TYPES} is not what {SCHEMA.name} gives: run python -m components.canvas.typegen", file=sys.stderr)
            return 1
        return 0
    TYPES.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
