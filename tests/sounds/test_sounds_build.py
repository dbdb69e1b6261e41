"""Rendering with the real espeak-ng and sox: format, idempotence, changes, removals, TTS."""
import wave
from pathlib import Path

import pytest

from fsapp.sounds import Catalog, RenderError, tts
from fsapp.sounds import render as render_mod
from fsapp.sounds.build import MANIFEST, build, output_size, plan, read_manifest

pytestmark = pytest.mark.usefixtures("tts_tools")  # tests/sounds/conftest.py

CATALOG = """\
languages: [zh-CN, en-US]
scoped:
  say/zh/: zh-CN
prompts:
  common/goodbye:
    zh-CN: 感谢您的来电，再见。
    en-US: Thank you for calling. Goodbye.
  common/beep:
    tone: {hz: 1000, ms: 300}
  say/zh/1: {zh-CN: 一}
  say/zh/yao: {zh-CN: 幺}
"""


def write_catalog(tmp_path, text=CATALOG):
    path = tmp_path / "sounds" / "catalog.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return Catalog.load(path)


def wav_format(path: Path):
    with wave.open(str(path)) as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes() / w.getframerate()


def test_build_renders_8k_mono_16bit_and_is_idempotent(tmp_path):
    catalog = write_catalog(tmp_path)
    seen = []
    result = build(catalog, jobs=2, progress=seen.append)
    assert result.ok, result.failed
    # 2 languages x 2 shared prompts + 2 zh-only say pieces
    assert sorted((j.lang, j.name) for j in result.rendered) == sorted([
        ("zh-CN", "common/goodbye"), ("en-US", "common/goodbye"), ("zh-CN", "common/beep"),
        ("en-US", "common/beep"), ("zh-CN", "say/zh/1"), ("zh-CN", "say/zh/yao")])
    assert len(seen) == 6
    for job in result.rendered:
        rate, channels, width, seconds = wav_format(job.out)
        assert (rate, channels, width) == (8000, 1, 2)
        assert 0.1 < seconds < 10
    assert wav_format(catalog.path("common/beep", "zh-CN"))[3] == pytest.approx(0.3, abs=0.01)
    # Speech was not trimmed to nothing and the Chinese sentence is longer than one syllable.
    assert wav_format(catalog.path("common/goodbye", "zh-CN"))[3] > 3 * wav_format(catalog.path("say/zh/1", "zh-CN"))[3]
    assert output_size(catalog)[0] == 6

    again = build(catalog)
    assert again.rendered == [] and again.unchanged == 6


def test_changed_text_is_rendered_again_and_only_it(tmp_path):
    catalog = write_catalog(tmp_path)
    build(catalog)
    before = catalog.path("common/goodbye", "en-US").read_bytes()
    other = catalog.path("common/goodbye", "zh-CN").stat().st_mtime_ns
    catalog = write_catalog(tmp_path, CATALOG.replace("Thank you for calling. Goodbye.", "Goodbye now."))
    result = build(catalog)
    assert [(j.lang, j.name) for j in result.rendered] == [("en-US", "common/goodbye")]
    assert catalog.path("common/goodbye", "en-US").read_bytes() != before
    assert catalog.path("common/goodbye", "zh-CN").stat().st_mtime_ns == other


def test_deleted_wav_is_rebuilt_and_removed_prompt_pruned(tmp_path):
    catalog = write_catalog(tmp_path)
    build(catalog)
    catalog.path("say/zh/1", "zh-CN").unlink()
    hand_made = catalog.base / "zh-CN" / "studio" / "greeting.wav"
    hand_made.parent.mkdir(parents=True)
    hand_made.write_bytes(b"RIFF")
    catalog = write_catalog(tmp_path, CATALOG.replace("  say/zh/yao: {zh-CN: 幺}\n", ""))
    result = build(catalog)
    assert [j.name for j in result.rendered] == ["say/zh/1"]
    assert result.removed == ["zh-CN/say/zh/yao"]
    assert not (catalog.base / "zh-CN" / "say" / "zh" / "yao.wav").exists()
    assert hand_made.exists()  # not ours: never deleted
    assert "say/zh/yao" not in read_manifest(catalog, "zh-CN")


def test_force_and_language_filter(tmp_path):
    catalog = write_catalog(tmp_path)
    build(catalog, langs=["en-US"])
    assert not (catalog.base / "zh-CN").exists()
    assert (catalog.base / "en-US" / MANIFEST).exists()
    assert len(build(catalog, langs=["en-US"], force=True).rendered) == 2
    with pytest.raises(RenderError, match="fr-FR not in"):
        build(catalog, langs=["fr-FR"])


def test_voice_change_re_renders(tmp_path):
    catalog = write_catalog(tmp_path)
    build(catalog, langs=["en-US"])
    todo, unchanged = plan(catalog, ["en-US"], voices={"en-US": "en-gb"})
    assert [job.name for job in todo] == ["common/goodbye"] and unchanged == 1  # a tone has no voice


def test_failures_are_reported_not_raised(tmp_path):
    catalog = write_catalog(tmp_path)
    result = build(catalog, langs=["en-US"], voices={"en-US": "no-such-voice"})
    failed = {job.name: error for job, error in result.failed}
    assert set(failed) == {"common/goodbye"}  # the tone needs no voice
    assert "espeak-ng has no voice 'no-such-voice' (configured for en-US" in failed["common/goodbye"]
    assert not catalog.path("common/goodbye", "en-US").exists()
    assert not list((catalog.base / "en-US").rglob("*.tmp.wav"))


def test_missing_tools_are_named(monkeypatch):
    monkeypatch.setattr(render_mod.shutil, "which", lambda tool: None)
    with pytest.raises(RenderError, match="espeak-ng and sox not found.*apt-get install espeak-ng sox"):
        render_mod.check_tools()


def test_runtime_tts_is_cached_by_text(tmp_path):
    first = tts("zh-CN", "您的账户余额为一百元。", cache_dir=tmp_path)
    assert first.is_absolute() and first.parent == tmp_path / "zh-CN"
    assert wav_format(first)[:3] == (8000, 1, 2)
    mtime = first.stat().st_mtime_ns
    assert tts("zh-CN", "您的账户余额为一百元。", cache_dir=tmp_path) == first
    assert first.stat().st_mtime_ns == mtime
    assert tts("en-US", "您的账户余额为一百元。", cache_dir=tmp_path) != first
    assert tts("zh-CN", "您的账户余额为两百元。", cache_dir=tmp_path) != first


@pytest.mark.parametrize("lang, text, message", [
    ("zh-CN", "  ", "text is empty"), ("zh-CN", "x" * 2001, "limit is 2000"),
    ("fr-FR", "bonjour", "no espeak-ng voice configured for fr-FR"),
])
def test_runtime_tts_rejects_bad_input(tmp_path, lang, text, message):
    with pytest.raises((ValueError, RenderError), match=message):
        tts(lang, text, cache_dir=tmp_path)


def test_text_starting_with_a_dash_is_spoken_not_parsed(tmp_path):
    path = tts("en-US", "-v minus five", cache_dir=tmp_path)
    assert wav_format(path)[3] > 0.3


def _phonemes(voice: str, text: str) -> str:
    import subprocess
    return subprocess.run(["espeak-ng", "-v", voice, "-b", "1", "-q", "-x"], input=text.encode(),
                          capture_output=True, timeout=30).stdout.decode()


@pytest.mark.slow
def test_every_chinese_catalog_text_is_read_as_mandarin():
    """espeak-ng marks a switch to English as '(en)': with the cmn voice, hanzi such as 一
    come out as English-spelled pinyin ("yi one"). The configured voice must not do that
    for any zh-CN text in the committed catalog."""
    catalog = Catalog.load(Path(__file__).resolve().parents[2] / "sounds" / "catalog.yaml")
    voice = render_mod.DEFAULT_VOICES["zh-CN"]
    texts = [p.texts["zh-CN"] for p in catalog.prompts.values() if "zh-CN" in p.texts]
    assert len(texts) > 50
    english = [text for text in texts if "(en)" in _phonemes(voice, text)]
    assert english == []
    assert "(en)" in _phonemes("cmn", "一")  # the check itself can fail: the plain voice does it
