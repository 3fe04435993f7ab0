"""Pydantic's validation errors as sentences a person can act on: the field, what it must be,
and its bounds. Only the error's type, location and limits are read, never its ``input`` (it is
the caller's data), and an error type not listed here gets a plain "is not valid".

>>> field_message({"type": "less_than_equal", "loc": ("body", "options", "order"),
...                "ctx": {"le": 4}})
'options.order must be at most 4'
>>> field_message({"type": "json_invalid", "loc": ("body", 1),
...                "ctx": {"error": "Expecting property name enclosed in double quotes"}})
'the body is not valid JSON: expecting property name enclosed in double quotes (at character 1)'
>>> field_message({"type": "model_attributes_type", "loc": ("body",)})
'the body must be a JSON object'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# type -> what the field must be; {name} placeholders come from the error's ctx (its bounds).
_MUST = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this request",
    "string_type": "must be a string",
    "int_type": "must be a whole number", "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number (not a string or true/false)",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false", "bool_parsing": "must be true or false",
    "dict_type": "must be a JSON object", "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "list_type": "must be a list",
    "finite_number": "must be a finite number",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "string_too_short": "must be at least {min_length} characters long",
    "string_too_long": "must be at most {max_length} characters long",
    "too_short": "must have at least {min_length} items",
    "too_long": "must have at most {max_length} items",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
}
# Python's json module's messages are fixed phrases (they never quote the document).
_JSON = "the body is not valid JSON: {error} (at character {pos})"


def field_message(error: Mapping[str, Any]) -> str:
    """One validation error of a request as a sentence."""
    kind = str(error.get("type", ""))
    loc = tuple(error.get("loc", ()))
    ctx = error.get("ctx") or {}
    if kind == "json_invalid":
        pos = loc[1] if len(loc) > 1 else 0
        return _JSON.format(error=str(ctx.get("error", "cannot be parsed")).lower(), pos=pos)
    template = _MUST.get(kind, "is not valid")
    try:
        must = template.format(**{k: _bound(v) for k, v in ctx.items()})
    except (KeyError, IndexError):
        must = "is not valid"
    return f"{_field(loc)} {must}"


def _field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query", "path") else \
        [str(p) for p in loc]
    if not parts:
        return "the body" if loc and loc[0] == "body" else "the request"
    where = {"query": "query parameter ", "path": "path parameter "}.get(str(loc[0]), "")
    return where + ".".join(parts)


def _bound(value: Any) -> str:
    """A limit as written in the model (numbers, or a list of allowed names)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
