"""``validate_spec``: what the API and forms say about a check's definition before it runs."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from caredeck.monitoring.probes.assertions import (
    ASSERTION_TYPES,
    JSONPathError,
    parse_path,
    validate_assertions,
)

KINDS = ("http", "websocket", "sip_options", "sip_call")
_ALLOWED = {
    "http": ASSERTION_TYPES,
    "websocket": ("latency_ms",),
    "sip_options": ("status", "latency_ms"),
    "sip_call": ("latency_ms",),
}
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_DTMF = re.compile(r"^[0-9*#A-Da-d]{0,32}$")


def _url_errors(url: Any, schemes: tuple[str, ...]) -> list[str]:
    if not isinstance(url, str) or not url.strip():
        return ["a URL is required"]
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        return [f"the URL must start with {' or '.join(s + '://' for s in schemes)}"]
    if not parts.hostname:
        return ["the URL has no host"]
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return ["the URL's port is not a number 1-65535"]
    return []


def _number(config: dict, key: str, low: float, high: float, errors: list[str]) -> None:
    if key not in config:
        return
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        errors.append(f"{key} must be a number from {low:g} to {high:g}")


def validate(kind: str, target: str, assertions: list | None, config: dict | None
             ) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def add(name: str, messages: list[str]) -> None:
        if messages:
            errors.setdefault(name, []).extend(messages)

    if kind not in KINDS:
        return {"kind": [f"unknown kind {kind!r} (one of {', '.join(KINDS)})"]}
    config = config if config is not None else {}
    if not isinstance(config, dict):
        return {"config": ["config must be an object"]}
    add("assertions", validate_assertions(assertions, allowed=_ALLOWED[kind]))
    config_errors: list[str] = []

    if kind == "http":
        steps = config.get("steps")
        if steps is None:
            add("target", _url_errors(target, ("http", "https")))
            config_errors += _request_errors(config, "")
        else:
            # The target is the base for relative step URLs.
            add("target", _url_errors(target, ("http", "https")))
            config_errors += _steps_errors(steps)
    elif kind == "websocket":
        if config.get("transport") == "http":
            add("target", _url_errors(target, ("http", "https")))
        elif "transport" in config and config["transport"] != "websocket":
            config_errors.append("transport must be 'websocket' or 'http'")
        else:
            add("target", _url_errors(target, ("ws", "wss")))
        config_errors += _script_errors(config.get("script"))
    else:
        from caredeck.monitoring.probes.sip import parse_uri
        try:
            parse_uri(target)
        except ValueError as exc:
            add("target", [str(exc)])
        if kind == "sip_options":
            codes = config.get("accepted_codes", [200])
            if not isinstance(codes, list) or not codes or not all(
                    isinstance(c, int) and not isinstance(c, bool) and 100 <= c <= 699
                    for c in codes):
                config_errors.append("accepted_codes must be a list of SIP codes 100-699")
        else:
            _number(config, "media_seconds", 0.5, 60, config_errors)
            _number(config, "post_dtmf_seconds", 0, 60, config_errors)
            _number(config, "answer_timeout", 1, 120, config_errors)
            _number(config, "min_rms", 0, 32767, config_errors)
            dtmf = config.get("dtmf", "")
            if not isinstance(dtmf, str) or not _DTMF.match(dtmf):
                config_errors.append("dtmf must be up to 32 of the digits 0-9 * # A-D")
    add("config", config_errors)
    return errors


def _request_errors(step: dict, where: str) -> list[str]:
    errors = []
    method = step.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in _METHODS:
        errors.append(f"{where}method must be one of {', '.join(_METHODS)}")
    headers = step.get("headers", {})
    if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        errors.append(f"{where}headers must be an object of text values")
    if "body" in step and not isinstance(step["body"], str):
        errors.append(f"{where}body must be a text (use json for an object)")
    if "body" in step and "json" in step:
        errors.append(f"{where}give body or json, not both")
    return errors


def _steps_errors(steps: Any) -> list[str]:
    if not isinstance(steps, list) or not steps:
        return ["steps must be a non-empty list"]
    if len(steps) > 20:
        return ["at most 20 steps"]
    errors = []
    for i, step in enumerate(steps, 1):
        where = f"step {i}: "
        if not isinstance(step, dict):
            errors.append(f"{where}must be an object")
            continue
        url = step.get("url")
        if url is not None and (not isinstance(url, str) or not url.strip()):
            errors.append(f"{where}url must be a text")
        elif isinstance(url, str) and "://" in url and not re.search(r"\{\{", url):
            errors += [where + m for m in _url_errors(url, ("http", "https"))]
        errors += _request_errors(step, where)
        errors += [where + m for m in validate_assertions(step.get("assertions"))]
        extract = step.get("extract", {})
        if not isinstance(extract, dict):
            errors.append(f"{where}extract must be an object of name -> JSONPath or regex")
            continue
        for name, rule in extract.items():
            if not re.match(r"^[A-Za-z_]\w*$", name):
                errors.append(f"{where}variable name {name!r} must be a word")
            if isinstance(rule, dict):
                try:
                    re.compile(rule.get("regex", ""))
                except (re.error, TypeError) as exc:
                    errors.append(f"{where}extract {name}: bad regex ({exc})")
                if not rule.get("regex"):
                    errors.append(f"{where}extract {name}: regex is empty")
            else:
                try:
                    parse_path(rule)
                except JSONPathError as exc:
                    errors.append(f"{where}extract {name}: {exc}")
    return errors


def _script_errors(script: Any) -> list[str]:
    if not isinstance(script, list) or not script:
        return ["script must be a non-empty list of send/expect steps"]
    errors = []
    for i, step in enumerate(script, 1):
        where = f"script step {i}: "
        if not isinstance(step, dict):
            errors.append(f"{where}must be an object")
            continue
        keys = {"send", "send_json", "expect", "expect_regex"} & set(step)
        if len(keys) != 1:
            errors.append(f"{where}needs exactly one of send, send_json, expect, expect_regex")
            continue
        key = keys.pop()
        if key in ("send", "expect", "expect_regex") and not isinstance(step[key], str):
            errors.append(f"{where}{key} must be a text")
        if key == "expect_regex" and isinstance(step[key], str):
            try:
                re.compile(step[key])
            except re.error as exc:
                errors.append(f"{where}bad regex ({exc})")
        if "within" in step and (isinstance(step["within"], bool) or not isinstance(
                step["within"], int | float) or not 0 < step["within"] <= 300):
            errors.append(f"{where}within must be a number of seconds, up to 300")
    return errors
