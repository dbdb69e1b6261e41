"""`fsapp sounds build`: render every catalog prompt that is missing or changed.

Idempotent: each language directory keeps a manifest (.manifest.json: name -> hash of
text, voice and pipeline). A prompt is rendered when its WAV is missing or its hash
differs; unchanged prompts are left alone; WAVs this build made for prompts since
removed from the catalog are deleted (files it did not make, e.g. studio recordings
copied in by hand, are never touched).
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from fsapp.sounds.catalog import Catalog, Tone
from fsapp.sounds.render import RenderError, check_tools, fingerprint, render, voice_for

MANIFEST = ".manifest.json"


@dataclass(frozen=True)
class Job:
    name: str
    lang: str
    out: Path
    key: str
    voice: str
    text: str | None = None
    tone: Tone | None = None


@dataclass
class BuildResult:
    rendered: list[Job] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)  # "lang/name"
    failed: list[tuple[Job, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


def _manifest_path(catalog: Catalog, lang: str) -> Path:
    return catalog.base / lang / MANIFEST


def read_manifest(catalog: Catalog, lang: str) -> dict[str, str]:
    path = _manifest_path(catalog, lang)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # a damaged manifest only costs a full re-render of that language
    return {k: v for k, v in data.get("prompts", {}).items() if isinstance(v, str)}


def _write_manifest(catalog: Catalog, lang: str, entries: dict[str, str]) -> None:
    path = _manifest_path(catalog, lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique temporary name: two builds running at once must not trip over each other.
    fd, tmp = tempfile.mkstemp(prefix=".manifest.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"prompts": dict(sorted(entries.items()))}, out, indent=1, ensure_ascii=False)
    os.replace(tmp, path)


def plan(catalog: Catalog, langs: list[str] | None = None,
         voices: dict[str, str] | None = None, force: bool = False) -> tuple[list[Job], int]:
    """(jobs to render, number of prompts already up to date)."""
    jobs, unchanged = [], 0
    for lang in langs or catalog.languages:
        voice = voice_for(lang, voices)
        manifest = read_manifest(catalog, lang)
        for name in catalog.names():
            prompt = catalog.prompts[name]
            if lang not in catalog.languages_of(name):
                continue
            text = None if prompt.tone else prompt.texts[lang]
            key = fingerprint(lang, voice, text=text, tone=prompt.tone)
            out = catalog.path(name, lang)
            if not force and manifest.get(name) == key and out.exists():
                unchanged += 1
                continue
            jobs.append(Job(name, lang, out, key, voice, text=text, tone=prompt.tone))
    return jobs, unchanged


def build(catalog: Catalog, *, langs: list[str] | None = None, voices: dict[str, str] | None = None,
          jobs: int = 2, force: bool = False, progress: Callable[[Job], None] | None = None) -> BuildResult:
    """Render what is missing or changed, `jobs` prompts at a time (each render is an
    espeak-ng and a sox process, so threads here only wait on child processes)."""
    started = time.monotonic()
    langs = langs or catalog.languages
    unknown = [lang for lang in langs if lang not in catalog.languages]
    if unknown:
        raise RenderError(f"language(s) {', '.join(unknown)} not in {catalog.file} "
                          f"(it has {', '.join(catalog.languages)})")
    todo, unchanged = plan(catalog, langs, voices, force)
    result = BuildResult(unchanged=unchanged)
    if todo:
        check_tools()
    manifests = {lang: read_manifest(catalog, lang) for lang in langs}
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="fsapp-sounds") as pool:
        futures = {pool.submit(render, job.out, lang=job.lang, voice=job.voice, text=job.text,
                               tone=job.tone): job for job in todo}
        for future in as_completed(futures):
            job = futures[future]
            try:
                future.result()
            except RenderError as exc:
                result.failed.append((job, str(exc)))
                manifests[job.lang].pop(job.name, None)
            else:
                result.rendered.append(job)
                manifests[job.lang][job.name] = job.key
            if progress:
                progress(job)
    for lang in langs:
        for name in sorted(set(manifests[lang]) - set(catalog.names())):
            catalog.path(name, lang).unlink(missing_ok=True)
            del manifests[lang][name]
            result.removed.append(f"{lang}/{name}")
        _write_manifest(catalog, lang, manifests[lang])
    result.seconds = time.monotonic() - started
    return result


def output_size(catalog: Catalog) -> tuple[int, int]:
    """(number of WAV files, total bytes) under the catalog's language directories."""
    files = [p for lang in catalog.languages for p in (catalog.base / lang).rglob("*.wav")]
    return len(files), sum(p.stat().st_size for p in files)
