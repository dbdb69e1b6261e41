"""Runtime text-to-speech: any text (a flow's `play` of a jinja2-rendered sentence,
an outage notice typed by an operator) to a cached WAV in the prompt format.

The file name is a hash of (language, voice, text, pipeline), so the same sentence is
rendered once and then served from the cache; concurrent calls asking for the same
text at once both render, and the atomic rename makes the last one win harmlessly.
"""
from __future__ import annotations

from pathlib import Path

from fsapp.sounds.render import RenderError, fingerprint, render, voice_for

MAX_CHARS = 2000  # a prompt, not a book: longer text is a bug upstream


def tts(lang: str, text: str, *, cache_dir: str | Path = "var/tts",
        voices: dict[str, str] | None = None) -> Path:
    """Absolute path of a WAV saying text in lang (8 kHz mono 16-bit), rendered if not cached.

    Blocks while espeak-ng and sox run (well under a second for a sentence); under
    gevent's monkey patching subprocess waits cooperatively, so other calls go on."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("tts: text is empty")
    if len(text) > MAX_CHARS:
        raise ValueError(f"tts: text is {len(text)} characters; the limit is {MAX_CHARS}")
    voice = voice_for(lang, voices)
    key = fingerprint(lang, voice, text=text.strip())
    out = Path(cache_dir).absolute() / lang / f"{key[:32]}.wav"
    if not out.exists():
        render(out, lang=lang, voice=voice, text=text.strip())
    return out


__all__ = ["tts", "RenderError"]
