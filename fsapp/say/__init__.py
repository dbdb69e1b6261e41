"""The say engine: numbers, money, dates, times, digits and ordinals as the list of
prompt names to play, in zh-CN and en-US. Pure functions, no I/O.

    >>> render("zh-CN", "money", "100.05")
    ['say/zh/1', 'say/zh/bai', 'say/zh/yuan', 'say/zh/0', 'say/zh/5', 'say/zh/fen']

Each language is one module in this package named after its tag (zh-CN -> zh_cn.py)
with LANG and KINDS (kind -> function(value, **options)); adding a language is adding
such a module and its "say/<xx>/..." prompts to sounds/catalog.yaml.
"""
from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
import re
from types import ModuleType

from fsapp.say.values import SayError

__all__ = ["render", "languages", "kinds", "options", "SayError"]

_LANG_TAG = re.compile(r"^[a-z]{2,3}-[A-Z]{2}$")
_LANG_MODULE = re.compile(r"^[a-z]{2,3}_[a-z]{2}$")


def languages() -> list[str]:
    """Tags of the languages that have a module here, e.g. ['en-US', 'zh-CN']."""
    return sorted(importlib.import_module(f"{__name__}.{info.name}").LANG
                  for info in pkgutil.iter_modules(__path__) if _LANG_MODULE.match(info.name))


def _module_for(lang: str) -> ModuleType:
    if not isinstance(lang, str) or not _LANG_TAG.match(lang):
        raise SayError(f"language {lang!r} is not a tag like 'zh-CN' or 'en-US'")
    try:
        return importlib.import_module(f"{__name__}.{lang.replace('-', '_').lower()}")
    except ModuleNotFoundError:
        raise SayError(f"language {lang!r} is not supported; supported: "
                       f"{', '.join(languages())}") from None


def kinds(lang: str) -> list[str]:
    return sorted(_module_for(lang).KINDS)


def options(lang: str, kind: str) -> dict[str, object]:
    """Options a kind takes in a language, with their defaults."""
    return dict(_keyword_options(_function(lang, kind)))


@functools.lru_cache(maxsize=None)
def _keyword_options(function) -> tuple[tuple[str, object], ...]:
    # once per say function (there are a few dozen): inspect.signature on every amount a
    # caller hears read out was a noticeable part of a hotline call's CPU
    return tuple((name, p.default) for name, p in inspect.signature(function).parameters.items()
                 if p.kind is inspect.Parameter.KEYWORD_ONLY)


def _function(lang: str, kind: str):
    module = _module_for(lang)
    try:
        return module.KINDS[kind]
    except (KeyError, TypeError):
        raise SayError(f"{lang}: unknown say kind {kind!r}; known: {', '.join(sorted(module.KINDS))}") from None


def render(lang: str, kind: str, value, **opts) -> list[str]:
    """Prompt names to play, in order. Raises SayError (a ValueError) for an unknown
    language, kind or option, or a value that cannot be read out."""
    function = _function(lang, kind)
    if not opts:
        return function(value)
    known = dict(_keyword_options(function))
    unknown = sorted(set(opts) - set(known))
    if unknown:
        raise SayError(f"{lang} {kind}: unknown option(s) {', '.join(unknown)}; "
                       f"known: {', '.join(known) or 'none'}")
    return function(value, **opts)
