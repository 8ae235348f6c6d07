"""Voice checks: SIP OPTIONS over UDP/TCP/TLS, and a SIP call with media, DTMF and BYE.

A minimal SIP user agent of our own on asyncio (RFC 3261, no digest auth): one socket per
run, a fresh Call-ID, From tag and Via branch, and for UDP the retransmission timers of
§17.1 (Timer A/E start at T1 = 500 ms and double; a non-INVITE caps at T2 = 4 s) until a
response comes or the run's deadline passes. Over TCP/TLS nothing is retransmitted.

``sip_options`` config: ``accepted_codes`` (default [200]), ``verify_tls`` (default true);
assertions ``latency_ms`` / ``status`` apply to the response.

``sip_call`` config: ``media_seconds`` (3), ``min_rms`` (200, on the 16-bit linear scale:
speech and prompts run in the thousands, line noise in the tens), ``answer_timeout`` (10),
``dtmf`` ("" for none, else digits 0-9*#A-D), ``post_dtmf_seconds`` (2: media must keep
coming after the digits, e.g. the queue's announcement). The call runs over UDP (the SIP
target's transport may be tcp/tls as well; media is always RTP over UDP). Steps: invite →
1xx, ringing, answered, first RTP, media, dtmf, media after dtmf, bye. Evidence: the SIP
messages exchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import secrets
import socket
import ssl
import time
from dataclasses import dataclass, field

from caredeck.monitoring.probes import ProbeOutcome, ProbeSpec, StepTiming, clip
from caredeck.monitoring.probes import rtp as rtplib
from caredeck.monitoring.probes.assertions import Response, evaluate

T1 = 0.5  # RFC 3261 round-trip estimate: first retransmission after 500 ms
T2 = 4.0  # cap of the non-INVITE retransmission interval
USER_AGENT = "CareDeck-Probe/1.0"
MAX_MESSAGE = 65_535

# RFC 3261 §7.3.3 compact header forms.
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
           "l": "content-length", "c": "content-type", "k": "supported", "s": "subject",
           "e": "content-encoding"}


class SipError(Exception):
    pass


# --- URIs ---------------------------------------------------------------------------

_URI = re.compile(
    r"^(?P<scheme>sips?):(?:(?P<user>[^@;?]+)@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)"
    r"(?::(?P<port>\d{1,5}))?(?P<params>(?:;[^;?]*)*)$"
)


@dataclass
class SipUri:
    scheme: str
    user: str | None
    host: str
    port: int
    transport: str  # "udp" | "tcp" | "tls"

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        return f"{self.scheme}:{user}{self.host}:{self.port}"


def parse_uri(text: str) -> SipUri:
    match = _URI.match((text or "").strip())
    if not match:
        raise ValueError(f"not a SIP URI: {text!r} (expected sip:user@host:port;transport=udp)")
    params = {}
    for part in match["params"].split(";")[1:]:
        key, _, value = part.partition("=")
        params[key.strip().lower()] = value.strip().lower()
    scheme = match["scheme"]
    transport = params.get("transport") or ("tls" if scheme == "sips" else "udp")
    if transport not in ("udp", "tcp", "tls"):
        raise ValueError(f"unsupported transport {transport!r} (udp, tcp or tls)")
    port = int(match["port"]) if match["port"] else (5061 if transport == "tls" else 5060)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} out of range")
    host = match["host"].strip("[]")
    return SipUri(scheme, match["user"], host, port, transport)


# --- messages -----------------------------------------------------------------------

@dataclass
class SipMessage:
    method: str | None = None  # requests
    uri: str | None = None
    status: int | None = None  # responses
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)  # lower-case names
    body: str = ""
    raw: str = ""

    def get(self, name: str, default: str = "") -> str:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), default)

    def all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = self.get("cseq").partition(" ")
        try:
            return int(number), method.strip().upper()
        except ValueError:
            return 0, method.strip().upper()

    @property
    def branch(self) -> str:
        top = self.get("via").split(",")[0]
        match = re.search(r";\s*branch=([^;,\s]+)", top, re.I)
        return match[1] if match else ""

    @property
    def summary(self) -> str:
        return f"{self.status} {self.reason}".strip() if self.status else f"{self.method}"


def parse_message(data: bytes | str) -> SipMessage | None:
    """Parse one SIP message; None for keep-alives and anything that is not SIP."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    text = text.lstrip("\r\n")
    if not text:
        return None
    head, sep, body = text.partition("\r\n\r\n")
    if not sep:  # tolerate bare LF line ends
        head, _, body = text.partition("\n\n")
    lines = head.replace("\r\n", "\n").split("\n")
    message = SipMessage(raw=text, body=body)
    first = lines[0].strip()
    if first.upper().startswith("SIP/2.0 "):
        parts = first.split(" ", 2)
        try:
            message.status = int(parts[1])
        except (IndexError, ValueError):
            return None
        message.reason = parts[2] if len(parts) > 2 else ""
    else:
        parts = first.split(" ")
        if len(parts) != 3 or parts[2].upper() != "SIP/2.0":
            return None
        message.method, message.uri = parts[0].upper(), parts[1]
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and message.headers:  # folded continuation line
            name, value = message.headers[-1]
            message.headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon:
            continue
        name = name.strip().lower()
        message.headers.append((COMPACT.get(name, name), value.strip()))
    return message


def frame_length(buffer: bytes) -> int | None:
    """Length of the first complete message in a stream buffer (TCP/TLS), else None."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buffer[:end].decode("utf-8", errors="replace")
    match = re.search(r"^(?:content-length|l)\s*:\s*(\d+)", head, re.I | re.M)
    return end + 4 + (int(match[1]) if match else 0)


def tag_of(header_value: str) -> str:
    match = re.search(r";\s*tag=([^;>\s]+)", header_value, re.I)
    return match[1] if match else ""


def uri_in(header_value: str) -> str:
    match = re.search(r"<([^>]+)>", header_value)
    return match[1] if match else header_value.split(";")[0].strip()


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)  # the magic cookie marks RFC 3261 branches


def build_request(method: str, uri: str, headers: list[tuple[str, str]], body: str = ""
                  ) -> bytes:
    lines = [f"{method} {uri} SIP/2.0"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def build_response(request: SipMessage, status: int, reason: str, *, to_tag: str = "",
                   extra: list[tuple[str, str]] | None = None, body: str = "") -> bytes:
    """A response copying Via/From/To/Call-ID/CSeq from the request (§8.2.6)."""
    lines = [f"SIP/2.0 {status} {reason}"]
    lines += [f"Via: {v}" for v in request.all("via")]
    lines.append(f"From: {request.get('from')}")
    to = request.get("to")
    if to_tag and not tag_of(to):
        to = f"{to};tag={to_tag}"
    lines += [f"To: {to}", f"Call-ID: {request.get('call-id')}",
              f"CSeq: {request.get('cseq')}"]
    lines += [f"{k}: {v}" for k, v in (extra or [])]
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


# --- SDP ----------------------------------------------------------------------------

def sdp_offer(ip: str, port: int, session_id: int) -> str:
    return "\r\n".join([
        "v=0", f"o=caredeck {session_id} {session_id} IN IP4 {ip}", "s=CareDeck probe",
        f"c=IN IP4 {ip}", "t=0 0",
        f"m=audio {port} RTP/AVP {rtplib.PCMU} {rtplib.TELEPHONE_EVENT}",
        "a=rtpmap:0 PCMU/8000", f"a=rtpmap:{rtplib.TELEPHONE_EVENT} telephone-event/8000",
        f"a=fmtp:{rtplib.TELEPHONE_EVENT} 0-16", "a=ptime:20", "a=sendrecv", "",
    ])


@dataclass
class MediaDescription:
    ip: str
    port: int
    payload_types: list[int]
    telephone_event: int | None


def parse_sdp(body: str) -> MediaDescription | None:
    """The first audio stream of an SDP body (media-level c= wins over session-level)."""
    session_ip = media_ip = None
    port = None
    payloads: list[int] = []
    event = None
    in_audio = False
    for line in body.replace("\r\n", "\n").split("\n"):
        line = line.strip()
        if line.startswith("m="):
            if port is not None:
                break  # only the first audio stream
            fields = line[2:].split()
            in_audio = fields[:1] == ["audio"]
            if in_audio and len(fields) >= 3:
                port = int(fields[1])
                payloads = [int(p) for p in fields[3:] if p.isdigit()]
        elif line.startswith("c="):
            ip = line.split()[-1].split("/")[0]
            if port is None and not in_audio:
                session_ip = ip
            elif in_audio:
                media_ip = ip
        elif in_audio and line.lower().startswith("a=rtpmap:") and "telephone-event" in line:
            event = int(line[9:].split()[0])
    ip = media_ip or session_ip
    if port is None or ip is None:
        return None
    return MediaDescription(ip, port, payloads, event)


# --- transport ----------------------------------------------------------------------

class _Inbox:
    """Messages and transport errors, in arrival order, for the UA's one reader."""

    def __init__(self):
        self.queue: asyncio.Queue[SipMessage | Exception] = asyncio.Queue()

    def message(self, data: bytes) -> None:
        message = parse_message(data)
        if message is not None:
            self.queue.put_nowait(message)

    def error(self, exc: Exception) -> None:
        self.queue.put_nowait(exc)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, inbox: _Inbox):
        self.inbox = inbox

    def datagram_received(self, data, addr):
        self.inbox.message(data)

    def error_received(self, exc):
        # A connected UDP socket reports ICMP "port unreachable" here: fail fast.
        self.inbox.error(exc)


class Channel:
    """One signalling connection to the target: UDP (connected socket), TCP or TLS."""

    def __init__(self, uri: SipUri):
        self.uri = uri
        self.inbox = _Inbox()
        self.reliable = uri.transport != "udp"
        self.local: tuple[str, int] = ("0.0.0.0", 0)  # noqa: S104 - replaced on open
        self._udp: asyncio.DatagramTransport | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task | None = None

    async def open(self, verify_tls: bool = True) -> None:
        loop = asyncio.get_running_loop()
        if self.uri.transport == "udp":
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self.inbox), remote_addr=(self.uri.host, self.uri.port))
            self.local = self._udp.get_extra_info("sockname")[:2]
            return
        context = None
        if self.uri.transport == "tls":
            context = ssl.create_default_context()
            if not verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        reader, self._writer = await asyncio.open_connection(
            self.uri.host, self.uri.port, ssl=context,
            server_hostname=self.uri.host if context else None)
        self.local = self._writer.get_extra_info("sockname")[:2]
        self._reader_task = asyncio.create_task(self._read_stream(reader))

    async def _read_stream(self, reader: asyncio.StreamReader) -> None:
        buffer = b""
        try:
            while True:
                chunk = await reader.read(16384)
                if not chunk:
                    self.inbox.error(ConnectionResetError("the server closed the connection"))
                    return
                buffer += chunk
                while (length := frame_length(buffer.lstrip(b"\r\n"))) is not None:
                    buffer = buffer.lstrip(b"\r\n")
                    if len(buffer) < length:
                        break
                    self.inbox.message(buffer[:length])
                    buffer = buffer[length:]
                if len(buffer) > MAX_MESSAGE:
                    self.inbox.error(SipError("oversized message from the server"))
                    return
        except (OSError, ssl.SSLError) as exc:
            self.inbox.error(exc)

    def send(self, data: bytes) -> None:
        if self._udp is not None:
            self._udp.sendto(data)
        elif self._writer is not None:
            self._writer.write(data)

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
                await asyncio.wait_for(self._writer.wait_closed(), 1)


# --- the user agent -----------------------------------------------------------------

class UserAgent:
    """One dialog's worth of UAC state, with a trace of every message."""

    def __init__(self, uri: SipUri, deadline: float):
        self.uri = uri
        self.deadline = deadline
        self.channel = Channel(uri)
        self.call_id = ""
        self.from_tag = secrets.token_hex(6)
        self.cseq = 0
        self.started = time.perf_counter()
        self.trace: list[str] = []
        self.remote_bye = False
        self.last_ack: bytes | None = None  # re-sent if the 200 OK is retransmitted

    async def open(self, verify_tls: bool) -> None:
        await self.channel.open(verify_tls)
        self.call_id = f"{secrets.token_hex(12)}@{self.channel.local[0]}"

    @property
    def via_transport(self) -> str:
        return self.uri.transport.upper()

    @property
    def local_host(self) -> str:
        ip, port = self.channel.local
        return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"

    def log(self, direction: str, data: bytes | str, note: str = "") -> None:
        text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
        at = (time.perf_counter() - self.started) * 1000
        self.trace.append(f"{direction} {at:.0f} ms{note}\n{text.rstrip()}\n")

    def evidence(self) -> str:
        text = "\n".join(self.trace)
        if len(text) <= 4000:
            return text
        # Keep the start (the INVITE) and the end (where it went wrong).
        return clip(text[:1400] + "\n… (trace shortened) …\n" + text[-2500:])

    def headers(self, method: str, branch: str, to: str, cseq: int) -> list[tuple[str, str]]:
        local = self.local_host
        return [
            ("Via", f"SIP/2.0/{self.via_transport} {local};branch={branch};rport"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:caredeck-probe@{local}>;tag={self.from_tag}"),
            ("To", to),
            ("Call-ID", self.call_id),
            ("CSeq", f"{cseq} {method}"),
            ("Contact", f"<sip:caredeck-probe@{local};transport={self.uri.transport}>"),
            ("User-Agent", USER_AGENT),
        ]

    def send(self, data: bytes, note: str = "") -> None:
        self.channel.send(data)
        self.log("-->", data, note)

    async def next_message(self, until: float) -> SipMessage | None:
        """The next message before ``until``, or None. Answers the peer's requests."""
        while True:
            remaining = min(until, self.deadline) - time.perf_counter()
            if remaining <= 0:
                return None
            try:
                item = await asyncio.wait_for(self.channel.inbox.queue.get(), remaining)
            except TimeoutError:
                return None
            if isinstance(item, Exception):
                raise SipError(_transport_error(item))
            self.log("<--", item.raw)
            if item.method is None:
                return item
            self._answer_request(item)

    def _answer_request(self, request: SipMessage) -> None:
        if request.method == "ACK":
            return
        if request.method == "BYE":
            self.remote_bye = True
        status, reason = (200, "OK") if request.method in ("BYE", "OPTIONS") else (
            501, "Not Implemented")
        self.send(build_response(request, status, reason))

    async def transaction(self, request: bytes, branch: str, method: str, until: float,
                          on_provisional=None) -> SipMessage | None:
        """Send ``request`` and return its final response (None when ``until`` passes).

        UDP: retransmit at T1, 2*T1, 4*T1 ... (INVITE stops once a provisional response
        shows the server has it; a non-INVITE keeps going, capped at T2)."""
        self.send(request)
        interval = T1
        next_retransmit = time.perf_counter() + interval
        provisional = False
        while True:
            wait_until = until if self.channel.reliable else min(until, next_retransmit)
            if method == "INVITE" and provisional:
                wait_until = until
            message = await self.next_message(wait_until)
            now = time.perf_counter()
            if message is None:
                if now >= min(until, self.deadline):
                    return None
                interval = min(interval * 2, T2) if method != "INVITE" else interval * 2
                if provisional and method != "INVITE":
                    interval = T2
                next_retransmit = now + interval
                self.send(request, " (retransmission)")
                continue
            if message.branch != branch or message.cseq[1] != method:
                if message.status == 200 and message.cseq[1] == "INVITE" and self.last_ack:
                    self.send(self.last_ack, " (ACK again: the 200 OK was retransmitted)")
                continue  # a stray response of an earlier transaction
            if message.status < 200:
                provisional = True
                if on_provisional:
                    on_provisional(message)
                continue
            return message

    async def close(self) -> None:
        await self.channel.close()


def _transport_error(exc: Exception) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (ICMP port unreachable)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _open_error(exc: Exception, uri: SipUri) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate error: {exc.verify_message}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {uri.host}: {exc.strerror}"
    return f"cannot connect to {uri.host}:{uri.port}/{uri.transport}: {_transport_error(exc)}"


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)


# --- OPTIONS ------------------------------------------------------------------------

async def run_options(spec: ProbeSpec, *, session=None) -> ProbeOutcome:
    config = spec.config or {}
    started = time.perf_counter()
    outcome = ProbeOutcome(ok=False, duration_ms=0.0)
    try:
        uri = parse_uri(spec.target)
    except ValueError as exc:
        return ProbeOutcome(ok=False, duration_ms=0.0, error=str(exc))
    ua = UserAgent(uri, started + spec.timeout)
    try:
        try:
            await asyncio.wait_for(ua.open(config.get("verify_tls", True)), spec.timeout)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            outcome.error = (f"cannot connect within {spec.timeout:g} s"
                             if isinstance(exc, TimeoutError) else _open_error(exc, uri))
            return outcome
        connected = time.perf_counter()
        if uri.transport != "udp":
            outcome.steps.append(StepTiming("connect", _ms(started), True, uri.transport))
        branch = new_branch()
        ua.cseq += 1
        request = build_request("OPTIONS", str(uri), ua.headers(
            "OPTIONS", branch, f"<{uri}>", ua.cseq) + [("Accept", "application/sdp")])
        response = await ua.transaction(request, branch, "OPTIONS", ua.deadline)
        if response is None:
            outcome.error = f"no response to OPTIONS within {spec.timeout:g} s"
            outcome.steps.append(StepTiming("options", _ms(connected), False, outcome.error))
            return outcome
        outcome.status_code = response.status
        accepted = config.get("accepted_codes") or [200]
        failures = []
        if response.status not in accepted:
            failures.append(f"expected {' or '.join(map(str, accepted))}, "
                            f"got {response.summary}")
        failures += evaluate(spec.assertions, Response(
            status=response.status, latency_ms=_ms(connected), text=response.body))
        outcome.steps.append(StepTiming("options", _ms(connected), not failures,
                                        response.summary))
        outcome.error = "; ".join(failures)
        outcome.ok = not failures
        return outcome
    except SipError as exc:
        outcome.error = str(exc)
        return outcome
    finally:
        outcome.duration_ms = _ms(started)
        if not outcome.ok:
            outcome.evidence = ua.evidence()
        await ua.close()


# --- the call -----------------------------------------------------------------------

class _RtpReceiver(asyncio.DatagramProtocol):
    """Counts RTP audio arriving on our port and sums its energy."""

    def __init__(self):
        self.packets = 0
        self.audio_packets = 0
        self.sum_squares = 0
        self.samples = 0
        self.first = asyncio.Event()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        packet = rtplib.parse(data)
        if packet is None:
            return
        self.packets += 1
        payload_type, payload = packet[0], packet[5]
        if payload_type == rtplib.PCMU:
            self.audio_packets += 1
            self.sum_squares += rtplib.energy(payload)
            self.samples += len(payload)
            self.first.set()

    def error_received(self, exc):
        pass  # an ICMP error for our DTMF/keep-alive packets says nothing about the call

    def snapshot(self) -> tuple[int, int, int]:
        return self.audio_packets, self.sum_squares, self.samples


class _RtpSender:
    """Our side of the media: silence every 20 ms (so that an SBC doing symmetric RTP
    latches on to our address) and RFC 4733 DTMF on the same sequence and SSRC."""

    def __init__(self, transport: asyncio.DatagramTransport, remote: tuple[str, int],
                 event_type: int):
        self.transport, self.remote, self.event_type = transport, remote, event_type
        self.ssrc = secrets.randbits(32)
        self.seq = secrets.randbits(16)
        self.timestamp = secrets.randbits(32)
        self.paused = False
        self._task: asyncio.Task | None = None

    def _send(self, payload_type: int, payload: bytes, marker: bool = False) -> None:
        self.transport.sendto(rtplib.build(payload_type, self.seq, self.timestamp, self.ssrc,
                                           payload, marker), self.remote)
        self.seq += 1

    def start(self) -> None:
        self._task = asyncio.create_task(self._silence())

    async def _silence(self) -> None:
        # Absolute schedule (next += 20 ms) so that sleep jitter does not add up.
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            if not self.paused:
                self._send(rtplib.PCMU, rtplib.SILENCE_FRAME)
                self.timestamp += rtplib.FRAME_SAMPLES
            next_at += rtplib.FRAME_SECONDS
            await asyncio.sleep(max(next_at - loop.time(), 0))

    async def dtmf(self, digits: str, tone_ms: int = 160, gap_ms: int = 80) -> None:
        """Each digit: packets every 20 ms with the same timestamp (the event's start) and a
        growing duration, the first with the marker bit; then the end packet three times
        (RFC 4733 §2.5.1.4: the end is repeated in case one is lost)."""
        self.paused = True
        try:
            for digit in digits:
                event = rtplib.DTMF_EVENTS[digit.upper()]
                frames = max(tone_ms // 20, 1)
                for i in range(1, frames + 1):
                    self._send(self.event_type, rtplib.dtmf_payload(
                        event, False, i * rtplib.FRAME_SAMPLES), marker=(i == 1))
                    await asyncio.sleep(rtplib.FRAME_SECONDS)
                for _ in range(3):
                    self._send(self.event_type, rtplib.dtmf_payload(
                        event, True, frames * rtplib.FRAME_SAMPLES))
                self.timestamp += (frames + gap_ms // 20) * rtplib.FRAME_SAMPLES
                await asyncio.sleep(gap_ms / 1000)
        finally:
            self.paused = False

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


class CallFailed(Exception):
    pass


async def run_call(spec: ProbeSpec, *, session=None) -> ProbeOutcome:
    config = spec.config or {}
    media_seconds = float(config.get("media_seconds", 3))
    min_rms = float(config.get("min_rms", 200))
    answer_timeout = float(config.get("answer_timeout", 10))
    digits = str(config.get("dtmf") or "")
    post_dtmf_seconds = float(config.get("post_dtmf_seconds", 2))
    started = time.perf_counter()
    outcome = ProbeOutcome(ok=False, duration_ms=0.0)
    try:
        uri = parse_uri(spec.target)
    except ValueError as exc:
        return ProbeOutcome(ok=False, duration_ms=0.0, error=str(exc))

    ua = UserAgent(uri, started + spec.timeout)
    steps = outcome.steps
    rtp_transport = receiver = sender = None
    dialog: dict | None = None  # to, remote target, route set once answered
    mark = started

    def step(name: str, ok: bool = True, detail: str = "") -> None:
        nonlocal mark
        steps.append(StepTiming(name, _ms(mark), ok, detail))
        mark = time.perf_counter()

    try:
        try:
            await asyncio.wait_for(ua.open(config.get("verify_tls", True)), spec.timeout)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise CallFailed(f"cannot connect within {spec.timeout:g} s"
                             if isinstance(exc, TimeoutError) else _open_error(exc, uri)
                             ) from None
        local_ip = ua.channel.local[0]
        loop = asyncio.get_running_loop()
        rtp_transport, receiver = await loop.create_datagram_endpoint(
            _RtpReceiver, local_addr=(local_ip, 0))
        rtp_port = rtp_transport.get_extra_info("sockname")[1]

        # INVITE → 1xx → 200
        branch = new_branch()
        ua.cseq += 1
        invite_cseq = ua.cseq
        to = f"<{uri}>"
        invite = build_request("INVITE", str(uri), ua.headers("INVITE", branch, to, ua.cseq) + [
            ("Content-Type", "application/sdp"), ("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS"),
        ], sdp_offer(local_ip, rtp_port, secrets.randbelow(10**9)))
        mark = time.perf_counter()
        seen: list[str] = []

        def provisional(message: SipMessage) -> None:
            if not seen:
                step("invite → 1xx", True, message.summary)
            if message.status in (180, 183) and not any(s.startswith("18") for s in seen):
                step("ringing", True, message.summary)
            seen.append(message.summary)

        answer_until = min(time.perf_counter() + answer_timeout, ua.deadline)
        response = await ua.transaction(invite, branch, "INVITE", answer_until, provisional)
        if response is None:
            waited = min(answer_timeout, spec.timeout)
            step("answered", False, f"after {', '.join(seen) or 'no response'}")
            await _cancel(ua, uri, branch, invite_cseq, to)
            raise CallFailed(f"no answer within {waited:g} s"
                             + (f" (got {', '.join(seen)})" if seen else ""))
        outcome.status_code = response.status
        if response.status >= 300:
            ua.send(_ack(ua, uri, branch, invite_cseq, response.get("to"), str(uri), []))
            step("answered", False, response.summary)
            raise CallFailed(response.summary)

        remote_target = uri_in(response.get("contact")) or str(uri)
        routes = [r for v in reversed(response.all("record-route")) for r in v.split(",")]
        dialog = {"to": response.get("to"), "target": remote_target, "routes": routes}
        ua.last_ack = _ack(ua, uri, new_branch(), invite_cseq, dialog["to"], remote_target,
                           routes)
        ua.send(ua.last_ack)
        media = parse_sdp(response.body)
        if media is None:
            step("answered", False, f"{response.summary} without an audio SDP answer")
            raise CallFailed("answered without an SDP answer for audio")
        step("answered", True, f"{response.summary}, media {media.ip}:{media.port}")

        sender = _RtpSender(rtp_transport, (media.ip, media.port),
                            media.telephone_event or rtplib.TELEPHONE_EVENT)
        sender.start()

        # First RTP, then media_seconds of it.
        await _wait_media(ua, receiver.first, min(mark + media_seconds, ua.deadline))
        if not receiver.first.is_set():
            step("first RTP", False, "no packet")
            raise CallFailed(f"no RTP in {media_seconds:g} s")
        step("first RTP", True)
        before = receiver.snapshot()
        await _listen(ua, media_seconds)
        rms, packets = _rms_since(receiver, before)
        ok = rms >= min_rms
        step("media", ok, f"{packets} packets, RMS {rms:.1f}")
        if ua.remote_bye:
            raise CallFailed("the far end hung up during the media")
        if not ok:
            raise CallFailed(f"silence (RMS {rms:.1f} below {min_rms:g})")

        if digits:
            await asyncio.wait_for(sender.dtmf(digits),
                                   max(ua.deadline - time.perf_counter(), 0.001))
            step("dtmf", True, digits)
            before = receiver.snapshot()
            await _listen(ua, post_dtmf_seconds)
            rms, packets = _rms_since(receiver, before)
            ok = packets > 0 and rms >= min_rms
            step("media after dtmf", ok, f"{packets} packets, RMS {rms:.1f}")
            if not ok:
                raise CallFailed(f"after DTMF {digits}: " + (
                    f"no RTP in {post_dtmf_seconds:g} s" if not packets
                    else f"silence (RMS {rms:.1f} below {min_rms:g})"))

        sender.stop()
        bye = await _bye(ua, uri, dialog)
        dialog = None
        if bye is None:
            step("bye", False, "no response")
            raise CallFailed("no response to BYE")
        step("bye", bye.status == 200, bye.summary)
        if bye.status != 200:
            raise CallFailed(f"BYE answered {bye.summary}")
        failures = evaluate(spec.assertions, Response(
            status=response.status, latency_ms=_ms(started)))
        if failures:
            raise CallFailed("; ".join(failures))
        outcome.ok = True
    except CallFailed as exc:
        outcome.error = str(exc)
    except SipError as exc:
        outcome.error = str(exc)
    except TimeoutError:
        outcome.error = f"timed out after {spec.timeout:g} s"
    finally:
        if sender is not None:
            sender.stop()
        if dialog is not None and not ua.remote_bye:
            # A failed call is still hung up, briefly, so the far end frees its channel.
            ua.deadline = max(ua.deadline, time.perf_counter() + 0.5)
            with contextlib.suppress(SipError, OSError):
                await _bye(ua, uri, dialog, budget=0.5)
        if rtp_transport is not None:
            rtp_transport.close()
        outcome.duration_ms = _ms(started)
        if not outcome.ok:
            outcome.evidence = ua.evidence()
        await ua.close()
    return outcome


def _ack(ua: UserAgent, uri: SipUri, branch: str, cseq: int, to: str, target: str,
         routes: list[str]) -> bytes:
    headers = ua.headers("ACK", branch, to, cseq)
    headers = [h for h in headers if h[0] != "Contact"] + [("Route", r.strip()) for r in routes]
    return build_request("ACK", target, headers)


async def _cancel(ua: UserAgent, uri: SipUri, branch: str, cseq: int, to: str) -> None:
    """CANCEL the unanswered INVITE (same branch and CSeq number, §9.1) and ACK its 487,
    so the far end stops ringing. Best effort, half a second: the verdict is known."""
    headers = [h for h in ua.headers("CANCEL", branch, to, cseq) if h[0] != "Contact"]
    until = time.perf_counter() + 0.5
    ua.deadline = max(ua.deadline, until)
    with contextlib.suppress(SipError, OSError):
        ua.send(build_request("CANCEL", str(uri), headers))
        final = await _final_for(ua, branch, "INVITE", until)
        if final is not None:
            ua.send(_ack(ua, uri, branch, cseq, final.get("to"), str(uri), []))


async def _final_for(ua: UserAgent, branch: str, method: str, until: float
                     ) -> SipMessage | None:
    while (message := await ua.next_message(until)) is not None:
        if message.branch == branch and message.cseq[1] == method and message.status >= 200:
            return message
    return None


async def _bye(ua: UserAgent, uri: SipUri, dialog: dict, budget: float | None = None
               ) -> SipMessage | None:
    branch = new_branch()
    ua.cseq += 1
    headers = ua.headers("BYE", branch, dialog["to"], ua.cseq)
    headers += [("Route", r.strip()) for r in dialog["routes"]]
    until = time.perf_counter() + budget if budget else ua.deadline
    return await ua.transaction(build_request("BYE", dialog["target"], headers), branch,
                                "BYE", until)


async def _wait_media(ua: UserAgent, event: asyncio.Event, until: float) -> None:
    """Wait for the first RTP packet while still answering SIP (a BYE, a re-sent 200)."""
    while not event.is_set() and time.perf_counter() < until:
        waiter = asyncio.ensure_future(event.wait())
        reader = asyncio.ensure_future(ua.next_message(until))
        done, pending = await asyncio.wait({waiter, reader}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if reader in done:
            reader.result()  # raises a transport error
            if ua.remote_bye:
                return


async def _listen(ua: UserAgent, seconds: float) -> None:
    """Let media flow for ``seconds`` while answering SIP requests as they come."""
    until = time.perf_counter() + seconds
    if until > ua.deadline:
        raise TimeoutError
    while time.perf_counter() < until and not ua.remote_bye:
        await ua.next_message(until)  # responses here are stray; requests get answered


def _rms_since(receiver: _RtpReceiver, before: tuple[int, int, int]) -> tuple[float, int]:
    packets, squares, samples = (now - then for now, then in zip(receiver.snapshot(), before,
                                                                  strict=True))
    return (math.sqrt(squares / samples) if samples else 0.0), packets
