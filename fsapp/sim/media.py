"""Durations of what the emulator 'plays', and the WAV files it 'records'.

playback length = WAV data bytes / byte rate from the file's own header;
tone_stream:// per its %(on,off,freq...) segments and loops; silence_stream://ms;
local_stream://NAME plays until it is broken (uuid_break, hangup), like FreeSWITCH's
music-on-hold streams, for the stream names the vanilla local_stream.conf defines.
"""
from __future__ import annotations

import array
import math
import os
import re
import struct
import sys
import wave

RATE = 8000
# vanilla conf/autoload_configs/local_stream.conf.xml defines these directories
LOCAL_STREAMS = ("default", "moh")


class MediaError(Exception):
    pass


def wav_seconds(path: str) -> float:
    """Length of a WAV file from its header (data chunk size / byte rate)."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise MediaError(f"{path}: not a RIFF/WAVE file")
        byte_rate = None
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                raise MediaError(f"{path}: no data chunk")
            cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"fmt ":
                fmt = f.read(size)
                byte_rate = struct.unpack("<I", fmt[8:12])[0]
                if size % 2:
                    f.read(1)
            elif cid == b"data":
                if not byte_rate:
                    raise MediaError(f"{path}: data chunk before fmt chunk")
                # A streaming writer may leave size 0xFFFFFFFF: use the real file size.
                remaining = os.path.getsize(path) - f.tell()
                return min(size, remaining) / byte_rate
            else:
                f.seek(size + (size % 2), 1)


_TONE_SEG = re.compile(r"%\(([^)]*)\)")


def tone_seconds(spec: str) -> float:
    """Duration of a tone_stream:// spec; loops=-1 (forever) gives math.inf."""
    body = spec[len("tone_stream://"):] if spec.startswith("tone_stream://") else spec
    loops = 1
    m = re.search(r"loops=(-?\d+)", body)
    if m:
        loops = int(m.group(1))
    total = 0.0
    for seg in _TONE_SEG.findall(body):
        parts = [p.strip() for p in seg.split(",")]
        try:
            on, off = float(parts[0]), float(parts[1]) if len(parts) > 1 else 0.0
        except ValueError:
            raise MediaError(f"bad tone_stream segment %({seg})") from None
        total += (on + off) / 1000.0
    if loops < 0:
        return math.inf
    return total * max(loops, 1)


def silence_seconds(spec: str) -> float:
    arg = spec[len("silence_stream://"):].split(",")[0]
    try:
        ms = int(arg)
    except ValueError:
        raise MediaError(f"bad silence_stream spec {spec!r}") from None
    return math.inf if ms < 0 else ms / 1000.0


def media_seconds(path: str, sound_prefix: str | None = None) -> float | None:
    """Seconds a playback of `path` takes, or None when the file does not exist."""
    if path.startswith("tone_stream://"):
        return tone_seconds(path)
    if path.startswith("silence_stream://"):
        return silence_seconds(path)
    if path.startswith("local_stream://"):
        name = path[len("local_stream://"):].split("/")[0]
        return math.inf if name in LOCAL_STREAMS else None
    full = path
    if not os.path.isabs(path) and sound_prefix:
        full = os.path.join(sound_prefix, path)
    if not os.path.isfile(full):
        return None
    try:
        return wav_seconds(full)
    except (MediaError, OSError, struct.error):
        return None


FRAME_SAMPLES = 160   # one 20 ms frame at 8 kHz: FreeSWITCH writes whole frames
# One second of the tone that stands in for speech: 400 Hz (a whole number of periods per
# second, so seconds can be tiled), well above any silence threshold.
_VOICE_SECOND = array.array("h", (int(6000 * math.sin(2 * math.pi * 400 * i / RATE)) for i in range(RATE)))


def write_wav(path: str, segments: list[tuple[float, bool]]) -> int:
    """Write 8 kHz mono 16-bit PCM with Python's wave module: each segment is
    (seconds, voiced), voiced as a 400 Hz tone, silent as zeros. Returns samples."""
    samples = array.array("h")
    for seconds, voiced in segments:
        n = int(round(seconds * RATE))
        if voiced:
            whole, rest = divmod(n, RATE)
            samples.extend(_VOICE_SECOND * whole)
            samples.extend(_VOICE_SECOND[:rest])
        else:
            samples.extend(array.array("h", bytes(2 * n)))
    if sys.byteorder != "little":
        samples.byteswap()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())
    return len(samples)
