"""Rendering one prompt to the WAV format FreeSWITCH plays without transcoding on
narrowband calls: 8 kHz, mono, 16-bit signed PCM.

espeak-ng speaks the text (22.05 kHz), sox trims the leading/trailing silence (so say
pieces concatenate without gaps), normalises to -3 dBFS (espeak output clips when
resampled) and resamples. Files are written under a temporary name and renamed, so a
reader (FreeSWITCH, a concurrent build) never sees half a file.

Voices: espeak-ng 1.51's `cmn` voice reads many hanzi as English-spelled pinyin
("yi one" for 一); `cmn-latn-pinyin` reads them correctly, so it is the zh-CN default.
"""
from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from fsapp.sounds.catalog import Tone

SAMPLE_RATE = 8000
DEFAULT_VOICES = {"zh-CN": "cmn-latn-pinyin", "en-US": "en-us"}
# Bump when the pipeline below changes what it produces: every prompt is re-rendered.
PIPELINE_VERSION = "espeak-ng|sox trim,gain -3,8k mono s16|1"
TIMEOUT_S = 60.0  # one prompt; espeak-ng takes well under a second

_SOX_OUT = ["-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed-integer"]
_TRIM = ["silence", "1", "0.01", "0.5%", "reverse", "silence", "1", "0.01", "0.5%", "reverse"]


class RenderError(RuntimeError):
    """espeak-ng or sox is missing or failed; the message says which and why."""


def voice_for(lang: str, voices: dict[str, str] | None = None) -> str:
    table = {**DEFAULT_VOICES, **(voices or {})}
    try:
        return table[lang]
    except KeyError:
        raise RenderError(f"no espeak-ng voice configured for {lang}; set [sounds] voices "
                          f"(known: {', '.join(sorted(table))})") from None


@functools.lru_cache(maxsize=1)
def installed_voices() -> frozenset[str]:
    """Names espeak-ng accepts for -v: language tags, voice names and voice files."""
    try:
        listing = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True,
                                 timeout=TIMEOUT_S).stdout
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return frozenset()
    names = set()
    for row in listing.splitlines()[1:]:
        cols = row.split()
        if len(cols) >= 5:
            names.update([cols[1], cols[3], cols[4], cols[4].rsplit("/", 1)[-1]])
    return frozenset(names)


def check_voice(lang: str, voice: str) -> None:
    """espeak-ng silently falls back to English for an unknown voice, which would turn a
    typo in [sounds] voices into English Chinese prompts; refuse it instead."""
    if voice.split("+")[0] not in installed_voices():
        raise RenderError(f"espeak-ng has no voice {voice!r} (configured for {lang} in [sounds] voices); "
                          "see `espeak-ng --voices`")


def check_tools() -> None:
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        raise RenderError(f"{' and '.join(missing)} not found on PATH: "
                          "install them (Debian: apt-get install espeak-ng sox)")


def fingerprint(lang: str, voice: str, text: str | None = None, tone: Tone | None = None) -> str:
    """What a rendered file depends on; a changed text, voice or pipeline re-renders it."""
    source = f"tone:{tone.hz}:{tone.ms}" if tone is not None else f"text:{voice}:{text}"
    return hashlib.sha256(f"{PIPELINE_VERSION}\n{lang}\n{source}".encode()).hexdigest()


def _run(argv: list[str], what: str, stdin: bytes | None = None) -> None:
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise RenderError(f"{what}: {argv[0]} did not finish within {TIMEOUT_S:.0f} s") from None
    except FileNotFoundError:
        raise RenderError(f"{what}: {argv[0]} not found (Debian: apt-get install espeak-ng sox)") from None
    if done.returncode != 0:
        error = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RenderError(f"{what}: {argv[0]} failed (exit {done.returncode}): "
                          f"{error[-1] if error else 'no message'}")


def render(out: Path, *, lang: str, voice: str, text: str | None = None,
           tone: Tone | None = None) -> None:
    """Write out (a .wav path) atomically from text (spoken) or a tone."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".tmp.wav", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    what = f"{lang} {out.name}"
    try:
        if tone is not None:
            _run(["sox", "-n", *_SOX_OUT, str(tmp), "synth", f"{tone.ms / 1000:.3f}", "sine",
                  str(tone.hz), "gain", "-3"], what)
        else:
            check_voice(lang, voice)
            with tempfile.TemporaryDirectory(prefix="fsapp-tts-") as work:
                raw = Path(work) / "raw.wav"
                # Text on stdin (-b 1: UTF-8), so text starting with '-' is not an option.
                _run(["espeak-ng", "-v", voice, "-b", "1", "-w", str(raw)], what,
                     stdin=text.encode("utf-8"))
                _run(["sox", str(raw), *_SOX_OUT, str(tmp), *_TRIM, "gain", "-n", "-3",
                      "pad", "0.02", "0.05"], what)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
