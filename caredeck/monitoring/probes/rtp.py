"""RTP and G.711 µ-law helpers shared by the SIP call probe and the SIP responder.

Audio is PCMU (payload type 0): 8,000 samples/s, one byte per sample, so one 20 ms
packet carries 160 bytes and advances the RTP timestamp by 160. DTMF is RFC 4733
telephone-event on its own dynamic payload type (101 unless the SDP says otherwise).
"""

from __future__ import annotations

import math
import struct

PCMU = 0
TELEPHONE_EVENT = 101
SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
SILENCE_BYTE = 0xFF  # µ-law encoding of 0

_BIAS = 0x84  # G.711 adds 132 so that every segment has a leading one to find
_CLIP = 32635


def ulaw_encode(sample: int) -> int:
    """16-bit linear sample -> µ-law byte (G.711): sign, 3-bit segment, 4-bit mantissa,
    all bits inverted so that silence is 0xFF (long runs of ones help old T1 lines)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), _CLIP) + _BIAS
    exponent = min((magnitude >> 7).bit_length() - 1, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def ulaw_decode(byte: int) -> int:
    byte = ~byte & 0xFF
    exponent = (byte >> 4) & 0x07
    magnitude = (((byte & 0x0F) << 3) + _BIAS) << exponent
    magnitude -= _BIAS
    return -magnitude if byte & 0x80 else magnitude


# Decoding is a table lookup; the probe only needs the energy, so it keeps the squares.
ULAW_SQUARED = tuple(ulaw_decode(b) ** 2 for b in range(256))


def energy(payload: bytes) -> int:
    """Sum of squared linear samples of a PCMU payload (RMS = sqrt(sum / samples))."""
    return sum(map(ULAW_SQUARED.__getitem__, payload))


def tone_frames(freq: float = 440.0, amplitude: int = 8000) -> list[bytes]:
    """One second of a sine as 50 PCMU frames. 440 Hz makes whole cycles in a second, so
    the frames loop without a click; ``amplitude`` 8000 gives an RMS of about 5,600."""
    samples = [
        ulaw_encode(round(amplitude * math.sin(2 * math.pi * freq * n / SAMPLE_RATE)))
        for n in range(SAMPLE_RATE)
    ]
    data = bytes(samples)
    return [data[i:i + FRAME_SAMPLES] for i in range(0, SAMPLE_RATE, FRAME_SAMPLES)]


SILENCE_FRAME = bytes([SILENCE_BYTE]) * FRAME_SAMPLES


def build(payload_type: int, seq: int, timestamp: int, ssrc: int, payload: bytes,
          marker: bool = False) -> bytes:
    # V=2, no padding, no extension, no CSRC.
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | payload_type,
                       seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc) + payload


def parse(data: bytes) -> tuple[int, int, int, int, bool, bytes] | None:
    """(payload type, seq, timestamp, ssrc, marker, payload) or None when not RTP v2."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    first, second, seq, timestamp, ssrc = struct.unpack_from("!BBHII", data)
    offset = 12 + 4 * (first & 0x0F)  # CSRC list
    if first & 0x10:  # header extension: 16-bit profile, 16-bit length in words
        if len(data) < offset + 4:
            return None
        offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
    end = len(data)
    if first & 0x20 and end > offset:  # padding: the last byte says how much
        end -= data[-1]
    if offset > end:
        return None
    return second & 0x7F, seq, timestamp, ssrc, bool(second & 0x80), data[offset:end]


DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11,
               "A": 12, "B": 13, "C": 14, "D": 15}
EVENT_DIGITS = {v: k for k, v in DTMF_EVENTS.items()}


def dtmf_payload(event: int, end: bool, duration: int, volume: int = 10) -> bytes:
    # RFC 4733 §2.3: event, E bit + reserved + volume (dBm0 below 0), duration in samples.
    return struct.pack("!BBH", event, (0x80 if end else 0) | (volume & 0x3F), duration)


def parse_dtmf(payload: bytes) -> tuple[int, bool, int] | None:
    if len(payload) < 4:
        return None
    event, flags, duration = struct.unpack_from("!BBH", payload)
    return event, bool(flags & 0x80), duration
