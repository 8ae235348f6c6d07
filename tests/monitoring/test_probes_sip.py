"""SIP probes against real peers on loopback: SIPp (Debian's sip-tester) as the UAS that
answers and plays RTP from a pcap, and our own responder for busy / never answering /
silent lines, DTMF and TCP/TLS."""

from __future__ import annotations

import asyncio
import math
import socket
import ssl
import struct
import subprocess
import time
from pathlib import Path

import pytest

from caredeck.monitoring.probes import ProbeSpec, run_probe
from caredeck.monitoring.probes import rtp as rtplib
from caredeck.monitoring.probes.sip import parse_message, parse_sdp, parse_uri
from caredeck.monitoring.probes.sip_peer import start_sip_responder, stop_sip_responder
from tests.monitoring.conftest import SIPP, self_signed_cert

# -- SIPp ----------------------------------------------------------------------------

UAS_WITH_MEDIA = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="CareDeck test UAS: answer and play a pcap">
  <recv request="INVITE" crlf="true"/>
  <send><![CDATA[

SIP/2.0 100 Trying
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

  ]]></send>
  <send><![CDATA[

SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

  ]]></send>
  <send retrans="500"><![CDATA[

SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=sipp 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000

  ]]></send>
  <recv request="ACK" crlf="true"/>
  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>
  <recv request="BYE"/>
  <send><![CDATA[

SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

  ]]></send>
</scenario>
"""

UAS_OPTIONS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="CareDeck test UAS: answer OPTIONS">
  <recv request="OPTIONS"/>
  <send><![CDATA[

SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Allow: INVITE, ACK, BYE, CANCEL, OPTIONS
Content-Length: 0

  ]]></send>
</scenario>
"""


def write_pcap(path: Path, frames: list[bytes], seconds: float) -> None:
    """A libpcap file of Ethernet/IPv4/UDP/RTP packets, one PCMU frame every 20 ms.
    SIPp replays the RTP payloads with the recorded spacing to the caller's media
    address (it rewrites addresses and ports), so only the RTP inside has to be right."""
    records = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]  # linktype 1
    for i in range(int(seconds * 50)):
        payload = rtplib.build(rtplib.PCMU, i, i * 160, 0x5151, frames[i % len(frames)],
                               marker=i == 0)
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(payload), 0) + payload  # no checksum
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                             socket.inet_aton("127.0.0.1"), socket.inet_aton("127.0.0.1"))
        total = sum(struct.unpack("!10H", header))
        total = (total & 0xFFFF) + (total >> 16)
        header = header[:10] + struct.pack("!H", ~total & 0xFFFF) + header[12:]
        packet = b"\x00" * 12 + b"\x08\x00" + header + udp  # Ethernet: no MACs, IPv4
        usec = i * 20_000
        records.append(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000,
                                   len(packet), len(packet)) + packet)
    path.write_bytes(b"".join(records))


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_taken(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


@pytest.fixture
def sipp(tmp_path):
    """sipp(scenario_xml, transport="udp") -> port: SIPp as a UAS on loopback."""
    processes = []

    def start(scenario: str, transport: str = "udp") -> int:
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        port, media_port = free_port(kind), free_port()
        scenario_file = tmp_path / f"uas-{port}.xml"
        scenario_file.write_text(scenario)
        process = subprocess.Popen(
            [SIPP, "-sf", str(scenario_file), "-i", "127.0.0.1", "-p", str(port),
             "-mi", "127.0.0.1", "-mp", str(media_port), "-t", "u1" if kind ==
             socket.SOCK_DGRAM else "t1", "-nostdin", "-trace_err", "-timeout", "60s"],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        processes.append(process)
        deadline = time.monotonic() + 5
        while not port_taken(port, kind):
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "SIPp did not start listening"
            time.sleep(0.05)
        return port

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def call(port: int, timeout: float = 10, **config):
    spec = ProbeSpec("sip_call", f"sip:service@127.0.0.1:{port}", timeout=timeout,
                     config=config)
    return asyncio.run(run_probe(spec))


def test_call_against_sipp_hears_the_tone_and_sends_dtmf(sipp, tmp_path):
    pcap = tmp_path / "tone.pcap"
    write_pcap(pcap, rtplib.tone_frames(), seconds=4)
    port = sipp(UAS_WITH_MEDIA.replace("{pcap}", str(pcap)))
    outcome = call(port, media_seconds=1, dtmf="1", post_dtmf_seconds=0.5)
    assert outcome.ok, f"{outcome.error}\n{outcome.evidence}"
    assert outcome.status_code == 200
    assert [s.name for s in outcome.steps] == [
        "invite → 1xx", "ringing", "answered", "first RTP", "media", "dtmf",
        "media after dtmf", "bye"]
    assert outcome.steps[0].detail == "100 Trying"
    media = outcome.steps[4]
    packets, rms = media.detail.split(" packets, RMS ")
    assert 40 <= int(packets) <= 55  # 1 s at 50 packets/s
    assert 5000 < float(rms) < 6200  # the 8000-amplitude sine: 8000 / sqrt(2) ≈ 5657
    assert 950 <= media.ms <= 1200
    assert outcome.steps[-1].detail == "200 OK"


def test_silence_from_sipp_fails_the_call(sipp, tmp_path):
    pcap = tmp_path / "silence.pcap"
    write_pcap(pcap, [rtplib.SILENCE_FRAME], seconds=3)
    port = sipp(UAS_WITH_MEDIA.replace("{pcap}", str(pcap)))
    outcome = call(port, media_seconds=1)
    assert not outcome.ok
    assert outcome.error == "silence (RMS 0.0 below 200)"
    assert "INVITE sip:service@127.0.0.1" in outcome.evidence
    assert "BYE sip:" in outcome.evidence  # the failed call is still hung up


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_options_against_sipp(sipp, transport):
    port = sipp(UAS_OPTIONS, transport)
    outcome = asyncio.run(run_probe(ProbeSpec(
        "sip_options", f"sip:ping@127.0.0.1:{port};transport={transport}", timeout=5,
        assertions=[{"type": "latency_ms", "max": 1000}])))
    assert outcome.ok, f"{outcome.error}\n{outcome.evidence}"
    assert outcome.status_code == 200
    assert outcome.steps[-1].name == "options" and outcome.steps[-1].detail == "200 OK"


# -- our responder -------------------------------------------------------------------

def with_responder(mode: str, probe, **kwargs):
    async def main():
        responder, port = await start_sip_responder(mode=mode, **kwargs)
        try:
            return await probe(port), responder
        finally:
            await stop_sip_responder(responder)
    return asyncio.run(main())


def call_spec(port: int, timeout: float = 8, **config) -> ProbeSpec:
    return ProbeSpec("sip_call", f"sip:line@127.0.0.1:{port}", timeout=timeout, config=config)


def test_call_sends_dtmf_that_the_far_end_hears():
    outcome, responder = with_responder("normal", lambda port: run_probe(call_spec(
        port, media_seconds=0.5, dtmf="12#", post_dtmf_seconds=0.3)))
    assert outcome.ok, outcome.error
    (peer_call,) = responder.calls.values()
    assert peer_call.dtmf == "12#"
    assert peer_call.state == "ended"
    assert outcome.steps[5].name == "dtmf" and outcome.steps[5].detail == "12#"


def test_busy_line_fails_with_486():
    outcome, _ = with_responder("busy", lambda port: run_probe(call_spec(port)))
    assert not outcome.ok
    assert outcome.error == "486 Busy Here"
    assert outcome.status_code == 486
    assert "ACK sip:" in outcome.evidence  # a final error response is acknowledged


def test_a_line_that_never_answers_fails_within_the_timeout():
    started = time.perf_counter()
    outcome, responder = with_responder("never_answer", lambda port: run_probe(call_spec(
        port, timeout=5, answer_timeout=1)))
    assert time.perf_counter() - started < 2.5
    assert not outcome.ok
    assert outcome.error == "no answer within 1 s (got 100 Trying)"
    (peer_call,) = responder.calls.values()
    assert peer_call.state == "cancelled"  # we CANCELled, it answered 487
    assert "SIP/2.0 487 Request Terminated" in outcome.evidence


def test_silent_line_and_line_without_rtp():
    silent, _ = with_responder("silent", lambda port: run_probe(call_spec(
        port, media_seconds=0.5)))
    assert silent.error == "silence (RMS 0.0 below 200)"
    assert silent.steps[-1].name == "media" and not silent.steps[-1].ok
    no_rtp, _ = with_responder("no_rtp", lambda port: run_probe(call_spec(
        port, media_seconds=0.5)))
    assert no_rtp.error == "no RTP in 0.5 s"


def test_media_must_fit_in_the_timeout():
    outcome, _ = with_responder("normal", lambda port: run_probe(call_spec(
        port, timeout=1, media_seconds=3)))
    assert not outcome.ok and outcome.error == "timed out after 1 s"


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_options_against_the_responder(transport):
    outcome, responder = with_responder("normal", lambda port: run_probe(ProbeSpec(
        "sip_options", f"sip:ping@127.0.0.1:{port};transport={transport}", timeout=3)),
        transport=transport)
    assert outcome.ok, outcome.error
    assert responder.options_answered == 1


def test_options_accepted_codes():
    outcome, _ = with_responder("normal", lambda port: run_probe(ProbeSpec(
        "sip_options", f"sip:ping@127.0.0.1:{port}", config={"accepted_codes": [404]})))
    assert not outcome.ok and outcome.error == "expected 404, got 200 OK"
    assert "OPTIONS sip:ping@127.0.0.1" in outcome.evidence


def test_options_over_tls(tmp_path):
    cert, key = self_signed_cert(tmp_path, days=30)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def probe(verify):
        return lambda port: run_probe(ProbeSpec(
            "sip_options", f"sip:ping@127.0.0.1:{port};transport=tls", timeout=3,
            config={"verify_tls": verify}))

    ok, _ = with_responder("normal", probe(False), transport="tls", ssl_context=context)
    assert ok.ok, ok.error
    assert [s.name for s in ok.steps] == ["connect", "options"]
    refused, _ = with_responder("normal", probe(True), transport="tls", ssl_context=context)
    assert not refused.ok and refused.error.startswith("TLS certificate error: self")


def test_options_retransmits_over_udp_until_the_deadline():
    """Timer E: a lost request is re-sent after 500 ms, then 1 s, 2 s (capped at 4 s)."""
    async def main():
        arrivals = []

        class BlackHole(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                arrivals.append(time.perf_counter())

        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            BlackHole, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        try:
            outcome = await run_probe(ProbeSpec("sip_options", f"sip:x@127.0.0.1:{port}",
                                                timeout=1.8))
        finally:
            transport.close()
        return outcome, arrivals

    outcome, arrivals = asyncio.run(main())
    assert outcome.error == "no response to OPTIONS within 1.8 s"
    gaps = [round(b - a, 1) for a, b in zip(arrivals, arrivals[1:], strict=False)]
    assert gaps == [0.5, 1.0]
    assert outcome.evidence.count("(retransmission)") == 2


def test_options_to_a_closed_port_fails_fast():
    port = free_port()
    started = time.perf_counter()
    outcome = asyncio.run(run_probe(ProbeSpec("sip_options", f"sip:x@127.0.0.1:{port}",
                                              timeout=5)))
    assert time.perf_counter() - started < 1
    assert outcome.error == "connection refused (ICMP port unreachable)"
    tcp = asyncio.run(run_probe(ProbeSpec(
        "sip_options", f"sip:x@127.0.0.1:{free_port(socket.SOCK_STREAM)};transport=tcp")))
    assert tcp.error.startswith("cannot connect to 127.0.0.1:")


# -- parsing and media helpers -------------------------------------------------------

def test_parse_message_tolerates_compact_folded_and_bare_lf():
    raw = ("\r\n\r\nSIP/2.0 180 Ringing\n"
           "v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc;rport=5060,"
           " SIP/2.0/UDP 10.0.0.2\n"
           "f: <sip:a@x>;tag=1\nt: <sip:b@y>\n ;tag=2\ni: call-1\nCSeq: 7 INVITE\n"
           "l: 0\n\n")
    message = parse_message(raw.encode())
    assert message.status == 180 and message.reason == "Ringing"
    assert message.branch == "z9hG4bKabc"
    assert message.get("to") == "<sip:b@y> ;tag=2"
    assert message.get("call-id") == "call-1"
    assert message.cseq == (7, "INVITE")
    assert parse_message(b"\r\n\r\n") is None
    assert parse_message(b"HTTP/1.1 200 OK\r\n\r\n") is None
    assert parse_message(b"SIP/2.0 abc\r\n\r\n") is None


def test_parse_uri_and_sdp():
    uri = parse_uri("sip:queue@pbx.acme.example;transport=TCP")
    assert (uri.host, uri.port, uri.transport, uri.user) == ("pbx.acme.example", 5060, "tcp",
                                                            "queue")
    assert parse_uri("sips:10.1.2.3").port == 5061 and parse_uri("sips:10.1.2.3").transport == (
        "tls")
    assert parse_uri("sip:[2001:db8::1]:5070").host == "2001:db8::1"
    for bad in ("http://x", "sip:", "sip:a@b:99999", "sip:a@b;transport=ws"):
        with pytest.raises(ValueError):
            parse_uri(bad)
    media = parse_sdp("v=0\r\nc=IN IP4 10.0.0.9\r\nm=audio 4000 RTP/AVP 0 96\r\n"
                      "a=rtpmap:96 telephone-event/8000\r\nm=video 5000 RTP/AVP 31\r\n"
                      "c=IN IP4 10.0.0.10\r\n")
    assert (media.ip, media.port, media.telephone_event) == ("10.0.0.9", 4000, 96)
    assert parse_sdp("v=0\r\n") is None


def test_ulaw_and_rtp_helpers():
    for sample in (0, 1, -1, 100, -100, 1000, -1000, 8000, -8000, 32767, -32768):
        decoded = rtplib.ulaw_decode(rtplib.ulaw_encode(sample))
        assert abs(decoded - sample) <= max(8, abs(sample) * 0.07), (sample, decoded)
    assert rtplib.ulaw_encode(0) == 0xFF and rtplib.ulaw_decode(0xFF) == 0
    frames = rtplib.tone_frames()
    assert len(frames) == 50 and all(len(f) == 160 for f in frames)
    rms = math.sqrt(sum(rtplib.energy(f) for f in frames) / 8000)
    assert 5500 < rms < 5800
    packet = rtplib.build(0, 65535, 2**32 - 1, 7, b"\x01\x02", marker=True)
    assert rtplib.parse(packet) == (0, 65535, 2**32 - 1, 7, True, b"\x01\x02")
    # One CSRC and two bytes of padding around the payload.
    padded = bytes([0x80 | 0x20 | 1]) + packet[1:12] + b"CSRC" + b"ab" + b"\x00\x02"
    assert rtplib.parse(padded)[5] == b"ab"
    assert rtplib.parse(b"\x00" * 12) is None
    assert rtplib.parse_dtmf(rtplib.dtmf_payload(11, True, 800)) == (11, True, 800)


def test_unparseable_target_is_an_outcome():
    outcome = asyncio.run(run_probe(ProbeSpec("sip_call", "tel:+49301234")))
    assert not outcome.ok and outcome.error.startswith("not a SIP URI")
