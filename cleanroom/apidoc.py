"""docs/api.md, generated from the application's own OpenAPI document so that it stays true:
every route, its body, its answer, the error codes it can give, and a curl example.

    python -m cleanroom.apidoc > docs/api.md
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from cleanroom.openapi import CODES, codes_of

EXAMPLE_PATH = {"c": "acme-streamco", "d": "impressions", "name": "overlap"}
_CONSTRAINTS = (("exclusiveMinimum", "> {}"), ("minimum", ">= {}"), ("exclusiveMaximum", "< {}"),
                ("maximum", "<= {}"), ("maxLength", "at most {} characters"))


def render_markdown(doc: dict[str, Any]) -> str:
    lines = ["# HTTP API reference", "",
             "Generated from the service's OpenAPI document by "
             "`python -m cleanroom.apidoc > docs/api.md` (a test keeps it equal). A running "
             "service serves the same document at `/openapi.json` and Swagger UI at `/docs`. "
             "The outside contract is [contract.md](contract.md).", "",
             doc["info"].get("description", ""), "",
             "The examples read the service's address and a token from the environment:", "",
             "```bash", "export CLEANROOM_URL=http://127.0.0.1:8000",
             "export CLEANROOM_TOKEN=$(cleanroom token issue --data-dir data "
             "--collaboration acme-streamco --party acme)", "```", "", "## Routes", ""]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            lines += _operation(doc, method, path, op)
    return "\n".join(lines + _codes()) + "\n"


def _operation(doc: dict[str, Any], method: str, path: str, op: dict[str, Any]) -> list[str]:
    out = [f"### `{method.upper()} {path}`", "", op.get("description", op.get("summary", "")), ""]
    params = [p for p in op.get("parameters", []) if p["in"] == "query"]
    if params:
        out += ["Query parameters: " + ", ".join(
            f"`{p['name']}` ({p.get('description', '')})" for p in params), ""]
    body = op.get("requestBody", {}).get("content", {})
    if "application/json" in body:
        out += ["**Body** (JSON):", "", *_fields(doc, body["application/json"]["schema"]), ""]
    elif body:
        out += ["**Body**: " + " or ".join(f"`{t}`" for t in body), ""]
    status, ok = next((s, r) for s, r in op["responses"].items() if s.startswith("2"))
    schema = ok.get("content", {}).get("application/json", {}).get("schema", {})
    out += [f"**Answer** `{status}`" + (f" (`{_name(schema)}`):" if schema else ""), ""]
    out += [*_fields(doc, schema), ""] if schema else []
    refusals = codes_of(op["responses"])
    if refusals:
        out += ["**Refusals**: " + "; ".join(
            f"{s} " + ", ".join(f"`{c}`" for c in codes) for s, codes in refusals.items()), ""]
    return out + ["```bash", _curl(doc, method, path, op, body), "```", ""]


def _fields(doc: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    resolved = _resolve(doc, schema)
    props = resolved.get("properties", {})
    if not props:
        return ["any JSON object (see the route's description)"]
    required = set(resolved.get("required", []))
    rows = ["| field | type | required | constraints |", "| --- | --- | --- | --- |"]
    rows += [f"| `{name}` | {_type(doc, prop)} | {'yes' if name in required else 'no'} | "
             f"{_limits(doc, prop)} |" for name, prop in props.items()]
    if resolved.get("additionalProperties") is True:
        rows.append("| ... | | | more keys may follow (a planner's own, such as `noise`) |")
    return rows


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _name(schema: dict[str, Any]) -> str:
    return str(schema.get("$ref", "object")).rsplit("/", 1)[-1]


def _type(doc: dict[str, Any], prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return f"object (`{_name(prop)}`)"
    if "anyOf" in prop:
        return " or ".join(_type(doc, p) for p in prop["anyOf"])
    if prop.get("type") == "array":
        return f"list of {_type(doc, prop.get('items', {}))}"
    return str(prop.get("type", "any"))


def _limits(doc: dict[str, Any], prop: dict[str, Any]) -> str:
    found = [template.format(_resolve(doc, p)[key]) for p in (prop, *prop.get("anyOf", []))
             for key, template in _CONSTRAINTS if key in _resolve(doc, p)]
    if "default" in prop:
        found.append(f"default {json.dumps(prop['default'])}")
    return ", ".join(found)


def _curl(doc: dict[str, Any], method: str, path: str, op: dict[str, Any],
          body: dict[str, Any]) -> str:
    url = "$CLEANROOM_URL" + path.format(**EXAMPLE_PATH)
    parts = ["curl -s" + ("" if method == "get" else f" -X {method.upper()}") + f' "{url}"']
    if op.get("security"):
        parts.append('-H "Authorization: Bearer $CLEANROOM_TOKEN"')
    if "application/json" in body:
        example = _example(doc, body["application/json"])
        parts += ['-H "Content-Type: application/json"', f"-d '{json.dumps(example)}'"]
    elif "text/csv" in body:
        parts += ['-H "Content-Type: text/csv"', "--data-binary @impressions.csv"]
    return " \\\n  ".join(parts)


def _example(doc: dict[str, Any], media: dict[str, Any]) -> Any:
    schema = _resolve(doc, media.get("schema", {}))
    examples = schema.get("examples") or [media.get("example", {})]
    return examples[0]


def _codes() -> list[str]:
    lines = ["## Error codes", "",
             'Every refusal is `{"error": {"code", "message", "violations": [{"rule", '
             '"message", "line"?, "col"?, "hint"?, "path"?}]}}`; a 401 carries '
             "`WWW-Authenticate: Bearer`, a 405 `Allow`. Rule codes: "
             "[gate-rules.md](gate-rules.md).", "", "| code | status | meaning |",
             "| --- | --- | --- |"]
    lines += [f"| `{code}` | {', '.join(map(str, statuses))} | {meaning} |"
              for code, (statuses, meaning) in CODES.items()]
    lines.append("| `method_not_allowed` | 405 | the route does not take that method |")
    return lines


def openapi_document() -> dict[str, Any]:
    """The document of an app on a throwaway store and the packaged example policy."""
    from cleanroom.api import create_app
    from cleanroom.demo import EXAMPLE_POLICIES

    with tempfile.TemporaryDirectory() as tmp:
        return dict(create_app(Path(tmp) / "data", EXAMPLE_POLICIES).openapi())


if __name__ == "__main__":
    print(render_markdown(openapi_document()), end="")
