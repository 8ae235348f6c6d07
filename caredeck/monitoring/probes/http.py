"""HTTP(S) checks: one request, or a multi-step transaction with extracted variables.

Config of a single-request check (all optional)::

    {"method": "GET", "headers": {...}, "body": "text" | "json": {...},
     "follow_redirects": true, "verify_tls": true}

A transaction has ``"steps"``; each step is a request of its own with a ``name``, ``url``
(absolute, or relative to the check's target), the same request keys as above, its own
``assertions`` and an ``extract`` of variables for the later steps::

    {"steps": [
      {"name": "log in", "method": "POST", "url": "/login", "json": {"user": "probe"},
       "extract": {"token": "$.token"}},
      {"name": "open desktop", "url": "/desktop",
       "headers": {"Authorization": "Bearer {{token}}"},
       "extract": {"queue": {"regex": "queue: (\\w+)"}},
       "assertions": [{"type": "body_contains", "value": "Agent desktop"}]}]}

``{{name}}`` is replaced in the URL, header values, body (text, or every string in a
JSON body) and the step's assertions. An extraction is a JSONPath (see ``assertions``) on
the JSON body, or ``{"regex": "..."}`` on the text (the first group when the pattern has
one). The check's own ``assertions`` apply to the last response, with ``latency_ms``
measured over the whole transaction. A request without a ``status`` assertion must answer below 400.

The certificate's notAfter is read from the live TLS connection of each HTTPS response
(``tls_expires_at`` = the earliest seen), also when ``verify_tls`` is off.
"""

from __future__ import annotations

import json
import re
import ssl
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import aiohttp

from caredeck.monitoring.probes import (
    ProbeOutcome,
    ProbeSpec,
    StepTiming,
    clip,
    with_own_session,
)
from caredeck.monitoring.probes.assertions import Response, evaluate, resolve

MAX_BODY = 1_000_000  # bytes read per response; enough for any page a check asserts on
EXCERPT = 3000
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")


class StepFailed(Exception):
    pass


def substitute(value: Any, variables: dict[str, str]) -> Any:
    """Replace {{name}} in strings (recursively in lists and dicts)."""
    if isinstance(value, str):
        def one(match: re.Match) -> str:
            name = match[1]
            if name not in variables:
                raise StepFailed(f"unknown variable {{{{{name}}}}} (extracted so far: "
                                 f"{', '.join(variables) or 'none'})")
            return str(variables[name])
        return _VARIABLE.sub(one, value)
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    return value


def extract(rules: dict, response: Response) -> dict[str, str]:
    found = {}
    for name, rule in (rules or {}).items():
        if isinstance(rule, dict):
            match = re.search(rule["regex"], response.text)
            if match is None:
                raise StepFailed(f"extract {name}: no match for /{rule['regex']}/ in the body")
            found[name] = match[1] if match.re.groups else match[0]
        else:
            try:
                value = resolve(response.json(), rule)
            except (KeyError, ValueError) as exc:
                raise StepFailed(f"extract {name}: {exc.args[0]}") from None
            found[name] = value if isinstance(value, str) else json.dumps(value)
    return found


def cert_not_after(der: bytes) -> datetime | None:
    """notAfter of a DER X.509 certificate, read with a minimal ASN.1 walk.

    Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
    serialNumber, signature, issuer, validity SEQUENCE { notBefore, notAfter }, ... } }.
    ``getpeercert()`` only decodes a certificate that was verified; with ``verify_tls``
    off we still want the expiry, and the binary form is always there.
    """
    def tlv(pos: int) -> tuple[int, int, int]:  # tag, start of value, end of value
        tag, length = der[pos], der[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(der[pos:pos + count], "big")
            pos += count
        return tag, pos, pos + length

    try:
        _, cert, _ = tlv(0)
        _, pos, _ = tlv(cert)  # into tbsCertificate
        tag, _, end = tlv(pos)
        if tag == 0xA0:  # explicit version
            pos = end
        for _ in range(3):  # serialNumber, signature, issuer
            pos = tlv(pos)[2]
        _, validity, _ = tlv(pos)
        not_before_end = tlv(validity)[2]
        tag, start, end = tlv(not_before_end)
        text = der[start:end].decode("ascii")
        fmt = "%y%m%d%H%M%SZ" if tag == 0x17 else "%Y%m%d%H%M%SZ"  # UTCTime / GeneralizedTime
        return datetime.strptime(text, fmt).replace(tzinfo=UTC)
    except (IndexError, ValueError, UnicodeDecodeError):
        return None


def _peer_expiry(resp: aiohttp.ClientResponse) -> datetime | None:
    # ``resp.connection`` is only set while the body is still coming: a small body is
    # complete as soon as the headers are parsed, and aiohttp hands the connection back
    # to the pool at once. The protocol of the response (aiohttp keeps it as
    # ``_protocol``, no public name) still holds the transport while it is pooled.
    # (``is not None`` throughout: the protocol is also a queue, falsy when empty.)
    connection = resp.connection
    protocol = (connection.protocol if connection is not None
                else getattr(resp, "_protocol", None))
    transport = protocol.transport if protocol is not None else None
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return cert_not_after(der) if der else None


async def _read(resp: aiohttp.ClientResponse) -> str:
    buf = bytearray()
    while len(buf) < MAX_BODY:
        chunk = await resp.content.read(MAX_BODY - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf.decode(resp.charset or "utf-8", errors="replace")


def _evidence(method: str, url: str, resp: Response | None, why: str) -> str:
    lines = [f"{method} {url}", f"-> {why}"]
    if resp is not None and resp.status is not None:
        lines.append(f"HTTP {resp.status}")
        lines += [f"{k}: {v}" for k, v in (resp.headers or {}).items()]
        lines += ["", resp.text[:EXCERPT]]
    return clip("\n".join(lines))


def _steps_of(spec: ProbeSpec) -> list[dict]:
    config = spec.config or {}
    if config.get("steps"):
        return config["steps"]
    single = {k: config[k] for k in ("method", "headers", "body", "json") if k in config}
    return [{"name": "request", "url": spec.target, **single}]


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate error: {exc.certificate_error}"
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return f"TLS error: {exc}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"connection failed: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ClientError):
        return f"{type(exc).__name__}: {exc}"
    return f"{type(exc).__name__}: {exc}"


async def _run(spec: ProbeSpec, session: aiohttp.ClientSession) -> ProbeOutcome:
    config = spec.config or {}
    started = time.perf_counter()
    deadline = started + spec.timeout
    steps = _steps_of(spec)
    multi = bool(config.get("steps"))
    variables: dict[str, str] = {}
    timings: list[StepTiming] = []
    outcome = ProbeOutcome(ok=False, duration_ms=0.0)
    ssl_arg = bool(config.get("verify_tls", True))  # False: encrypt but do not verify
    last: Response | None = None

    for index, step in enumerate(steps):
        name = step.get("name") or f"step {index + 1}"
        method = (step.get("method") or "GET").upper()
        url = step.get("url") or spec.target
        response: Response | None = None
        step_started = time.perf_counter()
        try:
            url = urljoin(spec.target, substitute(url, variables))
            headers = substitute(step.get("headers") or {}, variables)
            kwargs: dict[str, Any] = {"headers": headers}
            if "json" in step:
                kwargs["json"] = substitute(step["json"], variables)
            elif "body" in step:
                kwargs["data"] = substitute(step["body"], variables).encode()
            remaining = deadline - step_started
            if remaining <= 0:
                raise TimeoutError
            async with session.request(
                method, url, ssl=ssl_arg,
                allow_redirects=step.get("follow_redirects",
                                         config.get("follow_redirects", True)),
                timeout=aiohttp.ClientTimeout(total=remaining),
                **kwargs,
            ) as resp:
                expiry = _peer_expiry(resp)
                if expiry and (outcome.tls_expires_at is None or expiry < outcome.tls_expires_at):
                    outcome.tls_expires_at = expiry
                text = await _read(resp)
                response = Response(
                    status=resp.status, text=text, headers=resp.headers,
                    latency_ms=(time.perf_counter() - step_started) * 1000,
                    tls_days_left=(
                        (expiry - datetime.now(UTC)).total_seconds() / 86400 if expiry else None
                    ),
                )
            outcome.status_code = response.status
            checks = (substitute(list(step.get("assertions") or []), variables) if multi
                      else list(spec.assertions))
            failures = evaluate(checks, response)
            if response.status >= 400 and not any(a.get("type") == "status" for a in checks):
                failures.insert(0, f"expected a status below 400, got {response.status}")
            if failures:
                raise StepFailed("; ".join(failures))
            variables.update(extract(step.get("extract") or {}, response))
            timings.append(StepTiming(name, _ms(step_started), True, f"{method} {url} -> "
                                      f"{response.status}"))
            last = response
        except (StepFailed, TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            if isinstance(exc, TimeoutError):
                why = f"timed out after {spec.timeout:g} s"
            elif isinstance(exc, StepFailed):
                why = str(exc)
            else:
                why = _error_text(exc)
            timings.append(StepTiming(name, _ms(step_started), False, why))
            outcome.error = f"{name}: {why}" if multi else why
            outcome.evidence = _evidence(method, url, response, why)
            outcome.steps = timings
            outcome.duration_ms = _ms(started)
            return outcome

    outcome.steps = timings
    outcome.duration_ms = _ms(started)
    if multi and spec.assertions and last is not None:
        last.latency_ms = outcome.duration_ms  # the transaction's latency, not the last step's
        failures = evaluate(spec.assertions, last)
        if failures:
            outcome.error = "; ".join(failures)
            outcome.evidence = _evidence("(transaction)", str(spec.target), last, outcome.error)
            return outcome
    outcome.ok = True
    return outcome


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


run = with_own_session(_run)
