"""Chat probes against a real aiohttp WebSocket bot (and an HTTP chat API) on loopback."""

from __future__ import annotations

import asyncio

from aiohttp import WSMsgType, web

from caredeck.monitoring.probes import ProbeSession, ProbeSpec, run_probe


async def chat_bot(request):
    """Greets, echoes, and brings in an agent after a "typing" notice and a delay."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        text = msg.data
        if text == "hello":
            await ws.send_str("welcome to Acme support")
        elif text == "agent please":
            await ws.send_str("[typing]")
            await asyncio.sleep(0.2)
            await ws.send_str("agent Maria joined the conversation")
        elif text == "hang up":
            await ws.close()
        elif text == "ignore me":
            pass
        else:
            await ws.send_str(f"echo: {text}")
    return ws


async def http_chat(request):
    payload = await request.json()
    replies = {"hello": "welcome over HTTP", "agent please": "agent Ali joined"}
    if not payload.get("session"):
        return web.json_response({"error": "no session"}, status=400)
    return web.Response(text=replies.get(payload["message"], "sorry?"))


def chat(path: str, script: list[dict], **kwargs):
    async def main():
        app = web.Application()
        app.add_routes([web.get("/chat", chat_bot), web.post("/api/chat", http_chat)])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        scheme = "http" if kwargs.get("config", {}).get("transport") == "http" else "ws"
        config = {"script": script, **kwargs.pop("config", {})}
        try:
            async with ProbeSession() as session:
                return await run_probe(ProbeSpec("websocket", f"{scheme}://127.0.0.1:{port}"
                                                 f"{path}", config=config, **kwargs),
                                       session=session)
        finally:
            await runner.cleanup()
    return asyncio.run(main())


CONVERSATION = [
    {"send": "hello"},
    {"expect": "welcome", "within": 2},
    {"send": "agent please"},
    {"expect_regex": "agent .* joined", "within": 2},
]


def test_scripted_conversation_passes_and_times_each_step():
    outcome = chat("/chat", CONVERSATION)
    assert outcome.ok, outcome.error
    names = [s.name for s in outcome.steps]
    assert names == ["open", "1. send 'hello'", "2. expect 'welcome'",
                     "3. send 'agent please'", "4. expect 'agent .* joined'", "close"]
    assert all(s.ok for s in outcome.steps)
    # The agent joins 200 ms after the request; the typing notice is skipped on the way.
    assert outcome.steps[4].ms >= 190


def test_a_reply_that_never_comes_fails_with_the_transcript():
    outcome = chat("/chat", [{"send": "ignore me"}, {"expect": "anything", "within": 0.3}])
    assert not outcome.ok
    assert outcome.error == ("2. expect 'anything': expected text containing 'anything' "
                             "within 0.3 s, got nothing")
    assert "> ignore me" in outcome.evidence
    assert outcome.steps[-1].ok is False


def test_a_wrong_reply_is_named_in_the_error():
    outcome = chat("/chat", [{"send": "status?"}, {"expect_regex": r"^all good$",
                                                   "within": 0.3}])
    assert not outcome.ok
    assert "got 'echo: status?'" in outcome.error
    assert "< echo: status?" in outcome.evidence


def test_the_server_closing_the_conversation_fails_it():
    outcome = chat("/chat", [{"send": "hang up"}, {"expect": "bye", "within": 2}])
    assert not outcome.ok
    assert "the server closed the conversation" in outcome.error


def test_no_websocket_endpoint_fails_the_handshake():
    outcome = chat("/nowhere", CONVERSATION)
    assert not outcome.ok
    assert outcome.error.startswith("WebSocket handshake refused: 404")
    assert [s.name for s in outcome.steps] == ["open"]


def test_overall_timeout_bounds_the_conversation():
    outcome = chat("/chat", [{"send": "ignore me"}, {"expect": "x", "within": 30}],
                   timeout=0.5)
    assert not outcome.ok
    assert outcome.duration_ms < 1500
    assert "within 30 s, got nothing" in outcome.error


def test_http_chat_api_conversation():
    ok = chat("/api/chat", CONVERSATION, config={"transport": "http"})
    assert ok.ok, ok.error
    bad = chat("/api/chat", [{"send": "hello"}, {"expect": "bonjour", "within": 1}],
               config={"transport": "http"})
    assert not bad.ok
    assert "got 'welcome over HTTP'" in bad.error
    assert "< welcome over HTTP" in bad.evidence


def test_latency_assertion_on_the_whole_conversation():
    outcome = chat("/chat", CONVERSATION, assertions=[{"type": "latency_ms", "max": 50}])
    assert not outcome.ok
    assert outcome.error.startswith("expected a response within 50 ms, took ")
