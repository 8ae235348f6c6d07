"""Chat checks: a scripted conversation over WebSocket, or over an HTTP chat API.

Config::

    {"script": [{"send": "hello"},
                {"expect": "welcome", "within": 5},
                {"send": "agent please"},
                {"expect_regex": "agent .* joined", "within": 10}]}

- ``send``: a text frame (``send_json`` sends an object as JSON text);
- ``expect`` (substring) / ``expect_regex`` (``re.search``): read messages until one
  matches, at most ``within`` seconds (default 5). Other messages on the way (typing
  notices, adverts) are kept in the transcript and skipped.

Transport: a ``ws://`` / ``wss://`` target opens one WebSocket, runs the script and
closes it. An ``http(s)://`` target with ``"transport": "http"`` is a request/response
chat API: each ``send`` POSTs ``{"message": text, "session": <id of this run>}`` (field
names: ``message_field``, ``session_field``) and the response body becomes the next
received message. Each step is timed; on failure the evidence is the transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
from collections import deque

import aiohttp

from caredeck.monitoring.probes import (
    ProbeOutcome,
    ProbeSpec,
    StepTiming,
    clip,
    with_own_session,
)
from caredeck.monitoring.probes.assertions import Response, evaluate

DEFAULT_WITHIN = 5.0


class ChatFailed(Exception):
    pass


class _WebSocketChannel:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws = ws

    async def send(self, text: str) -> None:
        await self.ws.send_str(text)

    async def receive(self, timeout: float) -> str:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type == aiohttp.WSMsgType.TEXT:
            return msg.data
        if msg.type == aiohttp.WSMsgType.BINARY:
            return msg.data.decode("utf-8", errors="replace")
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                        aiohttp.WSMsgType.CLOSED):
            raise ChatFailed(f"the server closed the conversation (code {self.ws.close_code})")
        raise ChatFailed(f"WebSocket error: {self.ws.exception() or msg.type.name}")

    async def close(self) -> None:
        await self.ws.close()


class _HttpChannel:
    """Request/response chat: each send is a POST, its response the next message."""

    def __init__(self, session: aiohttp.ClientSession, url: str, config: dict, deadline: float):
        self.session, self.url, self.deadline = session, url, deadline
        self.message_field = config.get("message_field", "message")
        self.session_field = config.get("session_field", "session")
        self.chat_id = secrets.token_hex(8)
        self.inbox: deque[str] = deque()

    async def send(self, text: str) -> None:
        payload = {self.message_field: text, self.session_field: self.chat_id}
        timeout = aiohttp.ClientTimeout(total=max(self.deadline - time.perf_counter(), 0.001))
        async with self.session.post(self.url, json=payload, timeout=timeout) as resp:
            body = await resp.text(errors="replace")
            if resp.status >= 400:
                raise ChatFailed(f"the chat API answered {resp.status}: {body[:200]}")
        self.inbox.append(body)

    async def receive(self, timeout: float) -> str:
        if not self.inbox:
            raise TimeoutError  # nothing more comes without another request
        return self.inbox.popleft()

    async def close(self) -> None:
        pass


def _matches(step: dict, text: str) -> bool:
    if "expect" in step:
        return step["expect"] in text
    return re.search(step["expect_regex"], text) is not None


async def _run(spec: ProbeSpec, session: aiohttp.ClientSession) -> ProbeOutcome:
    config = spec.config or {}
    started = time.perf_counter()
    deadline = started + spec.timeout
    transcript: list[str] = []
    steps: list[StepTiming] = []
    outcome = ProbeOutcome(ok=False, duration_ms=0.0)

    def note(line: str) -> None:
        transcript.append(f"{(time.perf_counter() - started) * 1000:7.0f} ms  {line}")

    channel = None
    step_name = "open"
    step_started = started
    try:
        if config.get("transport") == "http":
            channel = _HttpChannel(session, spec.target, config, deadline)
            note(f"chat over HTTP POST {spec.target} (session {channel.chat_id})")
        else:
            ws = await asyncio.wait_for(
                session.ws_connect(spec.target, autoping=True,
                                   ssl=bool(config.get("verify_tls", True))),
                timeout=spec.timeout,
            )
            channel = _WebSocketChannel(ws)
            note(f"connected to {spec.target}")
        steps.append(StepTiming("open", _ms(started), True))

        for index, step in enumerate(config.get("script") or [], 1):
            step_started = time.perf_counter()
            if "send" in step or "send_json" in step:
                text = step["send"] if "send" in step else json.dumps(step["send_json"])
                step_name = f"{index}. send {text[:40]!r}"
                note(f"> {text}")
                await channel.send(text)
            else:
                pattern = step.get("expect", step.get("expect_regex"))
                step_name = f"{index}. expect {pattern[:40]!r}"
                within = float(step.get("within", DEFAULT_WITHIN))
                await _expect(channel, step, within, deadline, note)
            steps.append(StepTiming(step_name, _ms(step_started), True))

        step_started = time.perf_counter()
        step_name = "close"
        await asyncio.wait_for(channel.close(), timeout=max(deadline - step_started, 0.001))
        channel = None
        note("closed")
        steps.append(StepTiming("close", _ms(step_started), True))
    except (ChatFailed, TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
        if isinstance(exc, TimeoutError):
            why = f"timed out after {spec.timeout:g} s"
        elif isinstance(exc, aiohttp.WSServerHandshakeError):
            why = f"WebSocket handshake refused: {exc.status} {exc.message}"
        elif isinstance(exc, aiohttp.ClientConnectorError):
            why = f"connection failed: {exc.os_error.strerror or exc.os_error}"
        else:
            why = str(exc) or type(exc).__name__
        note(f"!! {why}")
        steps.append(StepTiming(step_name, _ms(step_started), False, why))
        outcome.error = f"{step_name}: {why}" if step_name != "open" else why
        outcome.evidence = clip("\n".join(transcript))
    finally:
        if channel is not None:
            # Close without waiting long: a failed run must not hold the socket.
            with contextlib.suppress(TimeoutError, aiohttp.ClientError, OSError):
                await asyncio.wait_for(channel.close(), timeout=1)

    outcome.steps = steps
    outcome.duration_ms = _ms(started)
    if outcome.error:
        return outcome
    failures = evaluate(spec.assertions, Response(latency_ms=outcome.duration_ms))
    if failures:
        outcome.error = "; ".join(failures)
        outcome.evidence = clip("\n".join(transcript))
        return outcome
    outcome.ok = True
    return outcome


async def _expect(channel, step: dict, within: float, deadline: float, note) -> None:
    stop = min(time.perf_counter() + within, deadline)
    skipped: list[str] = []
    while True:
        remaining = stop - time.perf_counter()
        try:
            if remaining <= 0:
                raise TimeoutError
            text = await channel.receive(timeout=remaining)
        except TimeoutError:
            got = ", ".join(repr(s[:60]) for s in skipped[-3:]) or "nothing"
            what = step.get("expect", step.get("expect_regex"))
            kind = "text containing" if "expect" in step else "a message matching"
            raise ChatFailed(f"expected {kind} {what!r} within {within:g} s, got {got}"
                             ) from None
        note(f"< {text}")
        if _matches(step, text):
            return
        skipped.append(text)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


run = with_own_session(_run)
