"""Assertions on a probe's response, and the small JSONPath subset they and extractions use.

Assertion types (a list of dicts on the check, or on one step of a transaction):

- ``{"type": "status", "value": 200}`` — the HTTP (or SIP) status code equals ``value``;
  ``value`` may be a list of accepted codes.
- ``{"type": "body_contains", "value": "Welcome"}`` — the body text contains ``value``
  (case-sensitive).
- ``{"type": "json_path", "path": "$.a.b", "value": 3}`` — the JSON body has a value at
  ``path`` equal to ``value`` (without ``value``: the path only has to exist).
- ``{"type": "header", "name": "Content-Type", "value": "json", "match": "contains"}`` —
  the header (name case-insensitive) is present and its value equals ``value``
  (``"match": "exact"``, the default) or contains it (``"match": "contains"``); without
  ``value`` the header only has to be present.
- ``{"type": "latency_ms", "max": 500}`` — the response came within ``max`` milliseconds.
- ``{"type": "tls_expiry_days", "min": 14}`` — the server certificate is valid for at
  least ``min`` more days (HTTPS only).

Each failure message says what was expected and what came; the probe joins them into the
check's error.

JSONPath subset: ``$`` (the root), ``.key``, ``['key']`` / ``["key"]`` and ``[index]``
(negative indexes count from the end), chained: ``$.items[0]['display name']``. No
wildcards, filters or recursive descent: checks point at one value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ASSERTION_TYPES = ("status", "body_contains", "json_path", "header", "latency_ms",
                   "tls_expiry_days")

_MISSING = object()
_TOKEN = re.compile(
    r"""\.(?P<key>[A-Za-z_][\w-]*)            # .key
      | \[\s*(?P<index>-?\d+)\s*\]            # [0]
      | \[\s*'(?P<sq>(?:[^'\\]|\\.)*)'\s*\]   # ['key']
      | \[\s*"(?P<dq>(?:[^"\\]|\\.)*)"\s*\]   # ["key"]
    """,
    re.VERBOSE,
)


class JSONPathError(ValueError):
    pass


def parse_path(path: str) -> list[str | int]:
    """'$.a[0]['b c']' -> ['a', 0, 'b c']; raises JSONPathError on anything else."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise JSONPathError(f"a JSONPath starts with '$' (got {path!r})")
    parts: list[str | int] = []
    pos = 1
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if match is None:
            raise JSONPathError(
                f"unsupported JSONPath syntax at {path[pos:]!r} in {path!r} "
                "(supported: $, .key, ['key'], [index])"
            )
        if match["key"] is not None:
            parts.append(match["key"])
        elif match["index"] is not None:
            parts.append(int(match["index"]))
        else:
            quoted = match["sq"] if match["sq"] is not None else match["dq"]
            parts.append(re.sub(r"\\(.)", r"\1", quoted))
        pos = match.end()
    return parts


def resolve(document: Any, path: str) -> Any:
    """The value at ``path``; raises KeyError with a message naming where it stopped."""
    node = document
    walked = "$"
    for part in parse_path(path):
        if isinstance(part, int):
            if not isinstance(node, list) or not -len(node) <= part < len(node):
                size = f"a list of {len(node)}" if isinstance(node, list) else _kind(node)
                raise KeyError(f"{path}: no index [{part}] at {walked} ({size})")
            node = node[part]
            walked += f"[{part}]"
        else:
            if not isinstance(node, dict) or part not in node:
                raise KeyError(f"{path}: no key {part!r} at {walked} ({_kind(node)})")
            node = node[part]
            walked += f".{part}"
    return node


def _kind(node: Any) -> str:
    if isinstance(node, dict):
        keys = ", ".join(list(map(str, node))[:8])
        return f"an object with keys {keys}" if keys else "an empty object"
    return f"a {type(node).__name__}" if node is not None else "null"


@dataclass
class Response:
    """What assertions look at; built by the HTTP and chat engines."""

    status: int | None = None
    text: str = ""
    headers: Mapping[str, str] | None = None  # case-insensitive (aiohttp's CIMultiDict)
    latency_ms: float = 0.0
    tls_days_left: float | None = None

    _json: Any = _MISSING

    def json(self) -> Any:
        if self._json is _MISSING:
            try:
                self._json = json.loads(self.text)
            except ValueError as exc:
                raise ValueError(f"the body is not JSON ({exc.msg})") from None
        return self._json


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return repr(text[:limit] + "…") if len(text) > limit else repr(text)


def _status(a: dict, r: Response) -> str | None:
    expected = a["value"] if isinstance(a["value"], list) else [a["value"]]
    if r.status in expected:
        return None
    want = " or ".join(map(str, expected))
    return f"expected status {want}, got {r.status}"


def _body_contains(a: dict, r: Response) -> str | None:
    if a["value"] in r.text:
        return None
    return f"expected the body to contain {_short(a['value'])}, got {_short(r.text)}"


def _json_path(a: dict, r: Response) -> str | None:
    try:
        actual = resolve(r.json(), a["path"])
    except (KeyError, ValueError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        return f"expected a value at {a['path']}: {message}"
    if "value" in a and actual != a["value"]:
        return f"expected {a['path']} == {_short(a['value'])}, got {_short(actual)}"
    return None


def _header(a: dict, r: Response) -> str | None:
    name = a["name"]
    actual = (r.headers or {}).get(name)
    if actual is None:
        return f"expected header {name}, it is missing"
    if "value" not in a:
        return None
    if a.get("match", "exact") == "contains":
        if a["value"] in actual:
            return None
        return f"expected header {name} to contain {_short(a['value'])}, got {_short(actual)}"
    if actual == a["value"]:
        return None
    return f"expected header {name}: {_short(a['value'])}, got {_short(actual)}"


def _latency(a: dict, r: Response) -> str | None:
    if r.latency_ms <= a["max"]:
        return None
    return f"expected a response within {a['max']} ms, took {r.latency_ms:.0f} ms"


def _tls_expiry(a: dict, r: Response) -> str | None:
    if r.tls_days_left is None:
        return f"expected a TLS certificate valid for {a['min']}+ days, no certificate seen"
    if r.tls_days_left >= a["min"]:
        return None
    return (f"expected a TLS certificate valid for {a['min']}+ days, "
            f"it expires in {r.tls_days_left:.1f} days")


CHECKS: dict[str, Callable[[dict, Response], str | None]] = {
    "status": _status,
    "body_contains": _body_contains,
    "json_path": _json_path,
    "header": _header,
    "latency_ms": _latency,
    "tls_expiry_days": _tls_expiry,
}


def evaluate(assertions: list[dict], response: Response) -> list[str]:
    """Failure messages, one per failed assertion (empty when all hold)."""
    failures = []
    for assertion in assertions or []:
        check = CHECKS.get(assertion.get("type"))
        if check is None:
            failures.append(f"unknown assertion type {assertion.get('type')!r}")
            continue
        message = check(assertion, response)
        if message:
            failures.append(message)
    return failures


def validate_assertions(assertions: Any, *, allowed: tuple[str, ...] = ASSERTION_TYPES
                        ) -> list[str]:
    """Messages for a list of assertion dicts (empty when valid)."""
    if assertions in (None, []):
        return []
    if not isinstance(assertions, list):
        return ["assertions must be a list"]
    errors = []
    for i, a in enumerate(assertions, 1):
        where = f"assertion {i}"
        if not isinstance(a, dict):
            errors.append(f"{where}: must be an object")
            continue
        kind = a.get("type")
        if kind not in ASSERTION_TYPES:
            errors.append(f"{where}: unknown type {kind!r} "
                          f"(one of {', '.join(ASSERTION_TYPES)})")
            continue
        if kind not in allowed:
            errors.append(f"{where}: {kind} does not apply to this kind of check")
            continue
        errors.extend(f"{where} ({kind}): {m}" for m in _validate_one(kind, a))
    return errors


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _validate_one(kind: str, a: dict) -> list[str]:
    if kind == "status":
        codes = a.get("value")
        codes = codes if isinstance(codes, list) else [codes]
        if not codes or not all(isinstance(c, int) and 100 <= c <= 699 for c in codes):
            return ["value must be a status code 100-699 (or a list of them)"]
    elif kind == "body_contains":
        if not isinstance(a.get("value"), str) or not a["value"]:
            return ["value must be a non-empty text"]
    elif kind == "json_path":
        try:
            parse_path(a.get("path"))
        except JSONPathError as exc:
            return [str(exc)]
    elif kind == "header":
        if not isinstance(a.get("name"), str) or not a["name"].strip():
            return ["name must be a header name"]
        if "value" in a and not isinstance(a["value"], str):
            return ["value must be a text"]
        if a.get("match", "exact") not in ("exact", "contains"):
            return ["match must be 'exact' or 'contains'"]
    elif kind == "latency_ms":
        if not _is_number(a.get("max")) or not 1 <= a["max"] <= 300_000:
            return ["max must be a number of milliseconds, 1-300000"]
    elif kind == "tls_expiry_days" and (
            not _is_number(a.get("min")) or not 0 <= a["min"] <= 3650):
        return ["min must be a number of days, 0-3650"]
    return []
