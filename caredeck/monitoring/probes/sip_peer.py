"""A small SIP responder (UAS) for the demo and the tests: a tenant's "voice line".

It answers OPTIONS with 200 and INVITE with 100 / 180 / 200 + SDP, then plays a 440 Hz
tone as PCMU RTP (one packet every 20 ms) to the caller's media address until BYE, and
records the DTMF digits (RFC 4733) it hears. Modes:

- ``normal``: as above;
- ``never_answer``: 100 Trying, then nothing (a CANCEL gets 200 + 487);
- ``busy``: 486 Busy Here;
- ``silent``: answers, sends RTP carrying silence;
- ``no_rtp``: answers, sends no RTP at all.

``mode`` can be changed on the running responder (the demo "breaks" a region that way).
UDP by default; ``transport="tcp"`` or ``"tls"`` (with ``ssl_context``) serve the same
logic over a stream, media still over UDP.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from caredeck.monitoring.probes import rtp as rtplib
from caredeck.monitoring.probes.sip import (
    T1,
    SipMessage,
    build_response,
    frame_length,
    parse_message,
    parse_sdp,
)

MODES = ("normal", "never_answer", "busy", "silent", "no_rtp")
_TONE: list[bytes] = []


def _tone() -> list[bytes]:
    if not _TONE:
        _TONE.extend(rtplib.tone_frames())
    return _TONE


@dataclass
class PeerCall:
    call_id: str
    invite: SipMessage
    reply: Callable[[bytes], None]
    to_tag: str = field(default_factory=lambda: secrets.token_hex(6))
    state: str = "ringing"  # ringing | answered | confirmed | ended | cancelled | rejected
    last_response: bytes = b""
    dtmf: str = ""
    rtp_packets_sent: int = 0
    media: asyncio.DatagramTransport | None = None
    tasks: list[asyncio.Task] = field(default_factory=list)
    _last_event_ts: int | None = None

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.media is not None:
            self.media.close()
            self.media = None


class _MediaProtocol(asyncio.DatagramProtocol):
    """Our RTP port of one call: picks the caller's DTMF digits out of what arrives."""

    def __init__(self, call: PeerCall):
        self.call = call

    def datagram_received(self, data, addr):
        packet = rtplib.parse(data)
        if packet is None or packet[0] == rtplib.PCMU:
            return
        event = rtplib.parse_dtmf(packet[5])
        # One digit per event: the first end packet (E bit) of each event timestamp;
        # its two repetitions carry the same timestamp and are ignored.
        if event and event[1] and packet[2] != self.call._last_event_ts:
            self.call._last_event_ts = packet[2]
            self.call.dtmf += rtplib.EVENT_DIGITS.get(event[0], "?")

    def error_received(self, exc):
        pass


class SipResponder:
    def __init__(self, host: str, mode: str = "normal", ring_delay: float = 0.05):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.host, self.mode, self.ring_delay = host, mode, ring_delay
        self.calls: dict[str, PeerCall] = {}
        self.options_answered = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.base_events.Server | None = None

    # -- plumbing ---------------------------------------------------------------------

    def handle(self, data: bytes, reply: Callable[[bytes], None]) -> None:
        message = parse_message(data)
        if message is None or message.method is None:
            return  # keep-alives and responses (we send no requests) are ignored
        handler = getattr(self, f"_on_{message.method.lower()}", None)
        if handler is None:
            reply(build_response(message, 501, "Not Implemented"))
            return
        handler(message, reply)

    def close(self) -> None:
        for call in self.calls.values():
            call.stop()
        if self._udp is not None:
            self._udp.close()
        if self._server is not None:
            self._server.close()

    # -- requests ---------------------------------------------------------------------

    def _on_options(self, request: SipMessage, reply) -> None:
        self.options_answered += 1
        reply(build_response(request, 200, "OK", to_tag=secrets.token_hex(6), extra=[
            ("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS"), ("Accept", "application/sdp"),
        ]))

    def _on_invite(self, request: SipMessage, reply) -> None:
        call_id = request.get("call-id")
        call = self.calls.get(call_id)
        if call is not None:  # a retransmission: repeat where we are
            if call.last_response:
                reply(call.last_response)
            return
        call = self.calls[call_id] = PeerCall(call_id, request, reply)
        reply(build_response(request, 100, "Trying"))
        if self.mode == "never_answer":
            return
        if self.mode == "busy":
            call.state = "rejected"
            call.last_response = build_response(request, 486, "Busy Here", to_tag=call.to_tag)
            reply(call.last_response)
            return
        call.tasks.append(asyncio.get_running_loop().create_task(self._answer(call)))

    async def _answer(self, call: PeerCall) -> None:
        request = call.invite
        await asyncio.sleep(self.ring_delay)
        call.last_response = build_response(request, 180, "Ringing", to_tag=call.to_tag)
        call.reply(call.last_response)
        await asyncio.sleep(self.ring_delay)
        loop = asyncio.get_running_loop()
        call.media, _ = await loop.create_datagram_endpoint(
            lambda: _MediaProtocol(call), local_addr=(self.host, 0))
        port = call.media.get_extra_info("sockname")[1]
        sdp = "\r\n".join([
            "v=0", f"o=responder 1 1 IN IP4 {self.host}", "s=CareDeck demo line",
            f"c=IN IP4 {self.host}", "t=0 0", f"m=audio {port} RTP/AVP 0 101",
            "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-16", "a=ptime:20", "a=sendrecv", "",
        ])
        contact = f"<sip:responder@{self.host}>"
        call.last_response = build_response(
            request, 200, "OK", to_tag=call.to_tag, body=sdp,
            extra=[("Contact", contact), ("Content-Type", "application/sdp")])
        call.state = "answered"
        call.reply(call.last_response)
        # Over UDP the 200 is re-sent (Timer G: T1 doubling) until the ACK comes.
        interval = T1
        for _ in range(6):
            await asyncio.sleep(interval)
            if call.state != "answered":
                return
            call.reply(call.last_response)
            interval *= 2

    def _on_ack(self, request: SipMessage, reply) -> None:
        call = self.calls.get(request.get("call-id"))
        if call is None or call.state != "answered":
            return
        call.state = "confirmed"
        offer = parse_sdp(call.invite.body)
        if offer is not None and self.mode in ("normal", "silent"):
            call.tasks.append(asyncio.get_running_loop().create_task(
                self._play(call, (offer.ip, offer.port))))

    async def _play(self, call: PeerCall, remote: tuple[str, int]) -> None:
        """RTP every 20 ms on an absolute schedule (drift-free), until BYE."""
        loop = asyncio.get_running_loop()
        frames = _tone() if self.mode == "normal" else [rtplib.SILENCE_FRAME]
        ssrc, seq, timestamp = secrets.randbits(32), secrets.randbits(16), secrets.randbits(32)
        next_at = loop.time()
        index = 0
        while call.media is not None and call.state == "confirmed":
            payload = frames[index % len(frames)] if self.mode == "normal" else frames[0]
            call.media.sendto(rtplib.build(rtplib.PCMU, seq, timestamp, ssrc, payload,
                                           marker=index == 0), remote)
            call.rtp_packets_sent += 1
            index += 1
            seq += 1
            timestamp += rtplib.FRAME_SAMPLES
            next_at += rtplib.FRAME_SECONDS
            await asyncio.sleep(max(next_at - loop.time(), 0))

    def _on_bye(self, request: SipMessage, reply) -> None:
        call = self.calls.get(request.get("call-id"))
        if call is None:
            reply(build_response(request, 481, "Call/Transaction Does Not Exist"))
            return
        call.state = "ended"
        call.stop()
        reply(build_response(request, 200, "OK"))

    def _on_cancel(self, request: SipMessage, reply) -> None:
        call = self.calls.get(request.get("call-id"))
        if call is None:
            reply(build_response(request, 481, "Call/Transaction Does Not Exist"))
            return
        reply(build_response(request, 200, "OK"))
        if call.state == "ringing":
            call.state = "cancelled"
            call.stop()
            call.last_response = build_response(call.invite, 487, "Request Terminated",
                                                to_tag=call.to_tag)
            reply(call.last_response)


class _UdpServer(asyncio.DatagramProtocol):
    def __init__(self, responder: SipResponder):
        self.responder = responder

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.responder.handle(data, lambda out: self.transport.sendto(out, addr))


async def start_sip_responder(host: str = "127.0.0.1", port: int = 0, mode: str = "normal",
                              *, transport: str = "udp",
                              ssl_context: ssl.SSLContext | None = None,
                              ring_delay: float = 0.05) -> tuple[SipResponder, int]:
    """Start listening; returns (responder, port). ``responder.close()`` (or
    ``stop_sip_responder``) stops it; ``responder.mode`` may be changed while it runs."""
    responder = SipResponder(host, mode, ring_delay)
    loop = asyncio.get_running_loop()
    if transport == "udp":
        responder._udp, _ = await loop.create_datagram_endpoint(
            lambda: _UdpServer(responder), local_addr=(host, port))
        return responder, responder._udp.get_extra_info("sockname")[1]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer = b""
        with contextlib.suppress(OSError, ssl.SSLError):
            while chunk := await reader.read(16384):
                buffer += chunk
                while (length := frame_length(buffer.lstrip(b"\r\n"))) is not None:
                    buffer = buffer.lstrip(b"\r\n")
                    if len(buffer) < length:
                        break
                    responder.handle(buffer[:length], writer.write)
                    buffer = buffer[length:]
        writer.close()

    responder._server = await asyncio.start_server(
        serve, host, port, ssl=ssl_context if transport == "tls" else None)
    return responder, responder._server.sockets[0].getsockname()[1]


async def stop_sip_responder(responder: SipResponder) -> None:
    responder.close()
    if responder._server is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(responder._server.wait_closed(), 1)
