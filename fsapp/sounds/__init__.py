"""Prompts: the catalog (name -> text per language, sounds/catalog.yaml), rendering it
to 8 kHz WAV with espeak-ng and sox (`fsapp sounds build`), and runtime TTS.

    catalog = Catalog.load("sounds/catalog.yaml")
    catalog.path("common/goodbye", "zh-CN")   # .../sounds/zh-CN/common/goodbye.wav
"""
from fsapp.sounds.catalog import Catalog, CatalogError, Prompt, Tone, UnknownPrompt
from fsapp.sounds.render import RenderError
from fsapp.sounds.tts import tts

__all__ = ["Catalog", "CatalogError", "Prompt", "Tone", "UnknownPrompt", "RenderError", "tts"]
