"""The prompt catalog: sounds/catalog.yaml maps each prompt name to its text per language.

Loading is strict because several engineers edit the file: duplicate names (which plain
YAML loaders silently overwrite), prompts missing a language, unknown languages and bad
names are all reported at once, each as file:line: message.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from fsapp.yamlsrc import SourceError, compose

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*$")
LANG = re.compile(r"^[a-z]{2,3}-[A-Z]{2}$")
TONE_HZ = (50, 4000)   # what an 8 kHz channel can carry
TONE_MS = (20, 10000)


class CatalogError(ValueError):
    """The catalog file is wrong; .problems lists every 'file:line: message'."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class UnknownPrompt(KeyError):
    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0])


@dataclass(frozen=True)
class Tone:
    hz: int
    ms: int


@dataclass(frozen=True)
class Prompt:
    name: str
    line: int
    texts: dict[str, str] = field(default_factory=dict)  # language -> text
    tone: Tone | None = None

    def has(self, lang: str) -> bool:
        return self.tone is not None or lang in self.texts


class Catalog:
    def __init__(self, path: Path, languages: list[str], scoped: dict[str, str],
                 prompts: dict[str, Prompt]):
        self.file = path
        self.base = path.parent  # rendered prompts: <base>/<lang>/<name>.wav
        self.languages = languages
        self.scoped = scoped
        self.prompts = prompts
        self._played: dict[tuple[str, str], str] = {}   # (name, lang) -> path(), see played()

    # ---- loading ---------------------------------------------------------------------
    @classmethod
    def load(cls, path) -> "Catalog":
        path = Path(path).absolute()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CatalogError([f"{path}: catalog not found (create it, or set [sounds] dir)"]) from None
        return cls.parse(text, path)

    @classmethod
    def parse(cls, text: str, path) -> "Catalog":
        return _Parser(Path(path)).parse(text)

    # ---- queries ---------------------------------------------------------------------
    def names(self) -> list[str]:
        return sorted(self.prompts)

    def languages_of(self, name: str) -> list[str]:
        """The languages a prompt must exist in: its scope's, or all."""
        for prefix, lang in self.scoped.items():
            if name.startswith(prefix):
                return [lang]
        return list(self.languages)

    def has(self, name: str, lang: str) -> bool:
        prompt = self.prompts.get(name)
        return prompt is not None and prompt.has(lang)

    def get(self, name: str) -> Prompt:
        try:
            return self.prompts[name]
        except KeyError:
            raise UnknownPrompt(f"prompt {name!r} is not in {self.file}; add it there") from None

    def text(self, name: str, lang: str) -> str:
        """What the prompt says in lang; for a tone, a description like '[tone 1000 Hz 400 ms]'."""
        prompt = self.get(name)
        if prompt.tone is not None:
            return f"[tone {prompt.tone.hz} Hz {prompt.tone.ms} ms]"
        if lang not in prompt.texts:
            raise UnknownPrompt(f"prompt {name!r} has no {lang} text in {self.file}:{prompt.line}")
        return prompt.texts[lang]

    def path(self, name: str, lang: str) -> Path:
        """Where the rendered prompt lives (absolute): <sounds dir>/<lang>/<name>.wav."""
        if not NAME.match(name) or not LANG.match(lang):
            raise ValueError(f"not a prompt name/language: {name!r} {lang!r}")
        return self.base / lang / f"{name}.wav"

    def played(self, name: str, lang: str) -> str:
        """path() as the string playback gets, remembered: a running line plays the same
        few prompts on every call. (Bounded: a prompt name a template builds from a
        caller's digits could otherwise grow it without end.)"""
        found = self._played.get((name, lang))
        if found is None:
            found = str(self.path(name, lang))
            if len(self._played) < 10000:
                self._played[(name, lang)] = found
        return found

    def missing(self, names, langs) -> list[tuple[str, str]]:
        """(name, lang) pairs, in the order given, that the catalog cannot play."""
        return [(name, lang) for name in names for lang in langs if not self.has(name, lang)]

    def spoken(self, names, lang: str) -> str:
        """The text a list of prompts says, e.g. for logs and docs: 一百元零五分."""
        joiner = "" if lang.startswith(("zh", "ja", "ko")) else " "
        return joiner.join(self.text(name, lang) for name in names)


class _Parser:
    """Walks the YAML node tree (not the loaded dicts) to keep line numbers and see
    duplicate keys."""

    def __init__(self, path: Path):
        self.path = path
        self.problems: list[str] = []
        self.key_line: dict[int, int] = {}  # id(value node) -> line of its key

    def line(self, node) -> int:
        return self.key_line.get(id(node)) or node.start_mark.line + 1

    def problem(self, node_or_line, message: str) -> None:
        line = node_or_line if isinstance(node_or_line, int) else self.line(node_or_line)
        self.problems.append(f"{self.path}:{line}: {message}")

    def mapping(self, node, what: str) -> list[tuple[str, yaml.Node]]:
        """Key/value pairs of a mapping node, reporting non-string and duplicate keys.
        Remembers each value's key line: errors point at the key, where people look."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{what} must be a mapping (key: value lines)")
            return []
        pairs, seen = [], {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, f"{what}: keys must be plain text")
                continue
            key = key_node.value
            if key in seen:
                self.problem(key_node, f"{what}: duplicate key {key!r} (first at line {seen[key]}); "
                                       "remove or rename one")
                continue
            seen[key] = key_node.start_mark.line + 1
            self.key_line[id(value_node)] = seen[key]
            pairs.append((key, value_node))
        return pairs

    def scalar(self, node, what: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.value.strip() == "":
            self.problem(node, f"{what} must be non-empty text")
            return None
        return node.value.strip()

    def integer(self, node, what: str, bounds: tuple[int, int]) -> int | None:
        text = self.scalar(node, what)
        if text is None:
            return None
        if not text.isdigit() or not bounds[0] <= int(text) <= bounds[1]:
            self.problem(node, f"{what} must be a whole number from {bounds[0]} to {bounds[1]}, not {text!r}")
            return None
        return int(text)

    def parse(self, text: str) -> Catalog:
        try:
            root = compose(text)
        except SourceError as exc:
            raise CatalogError([exc.placed(self.path).report()]) from None
        if root is None:
            raise CatalogError([f"{self.path}:1: empty catalog; it needs 'languages' and 'prompts'"])
        top = dict(self.mapping(root, "catalog"))
        for key in sorted(set(top) - {"languages", "scoped", "prompts"}):
            self.problem(next(k for k, _ in root.value if k.value == key),
                         f"unknown top-level key {key!r}; expected languages, scoped, prompts")
        languages = self.languages(top.get("languages"), root)
        scoped = self.scopes(top.get("scoped"), languages)
        prompts = self.prompts(top.get("prompts"), root, languages, scoped)
        if self.problems:
            raise CatalogError(self.problems)
        return Catalog(self.path, languages, scoped, prompts)

    def languages(self, node, root) -> list[str]:
        if node is None:
            self.problem(root, "missing 'languages: [zh-CN, en-US]'")
            return []
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.problem(node, "languages must be a non-empty list, e.g. [zh-CN, en-US]")
            return []
        result = []
        for item in node.value:
            lang = self.scalar(item, "language")
            if lang is not None and not LANG.match(lang):
                self.problem(item, f"language {lang!r} is not a tag like zh-CN or en-US")
            elif lang in result:
                self.problem(item, f"language {lang!r} listed twice")
            elif lang:
                result.append(lang)
        return result

    def scopes(self, node, languages: list[str]) -> dict[str, str]:
        scoped = {}
        if node is None:
            return scoped
        for prefix, value in self.mapping(node, "scoped"):
            lang = self.scalar(value, f"scoped {prefix!r}")
            if lang is not None and lang not in languages:
                self.problem(value, f"scoped {prefix!r}: {lang!r} is not in languages {languages}")
            elif lang is not None:
                scoped[prefix] = lang
        return scoped

    def prompts(self, node, root, languages, scoped) -> dict[str, Prompt]:
        if node is None:
            self.problem(root, "missing 'prompts:' mapping")
            return {}
        result = {}
        for name, value in self.mapping(node, "prompts"):
            line = self.line(value)
            if not NAME.match(name):
                self.problem(line, f"prompt name {name!r}: use lowercase a-z, 0-9, _ and - in "
                                   "parts separated by '/' (e.g. hotline/main_menu)")
                continue
            prompt = self.prompt(name, value, languages, scoped)
            if prompt is not None:
                result[name] = prompt
        return result

    def prompt(self, name, node, languages, scoped) -> Prompt | None:
        line = self.line(node)
        pairs = self.mapping(node, f"prompt {name!r}")
        if not pairs:
            if isinstance(node, yaml.MappingNode):
                self.problem(node, f"prompt {name!r} has no text; add e.g. 'zh-CN: ...'")
            return None
        if any(key == "tone" for key, _ in pairs):
            if len(pairs) > 1:
                self.problem(node, f"prompt {name!r}: a tone has no per-language text; remove the other keys")
            tone = dict(self.mapping(pairs[0][1], f"prompt {name!r} tone"))
            hz = self.integer(tone["hz"], f"{name} tone hz", TONE_HZ) if "hz" in tone else None
            ms = self.integer(tone["ms"], f"{name} tone ms", TONE_MS) if "ms" in tone else None
            if ("hz" not in tone or "ms" not in tone) and tone:
                self.problem(pairs[0][1], f"prompt {name!r}: tone needs hz and ms, e.g. {{hz: 1000, ms: 400}}")
            return Prompt(name, line, tone=Tone(hz, ms)) if hz and ms else None
        required = [lang for prefix, lang in scoped.items() if name.startswith(prefix)][:1] or languages
        texts = {}
        for lang, value in pairs:
            if lang not in required:
                hint = (f"prompts under this prefix are {required[0]} only" if required != languages
                        else f"languages are {', '.join(languages)}")
                self.problem(value, f"prompt {name!r}: unexpected language {lang!r} ({hint})")
                continue
            text = self.scalar(value, f"prompt {name!r} {lang}")
            if text is not None:
                texts[lang] = text
        absent = [lang for lang in required if lang not in dict(pairs)]
        if absent:
            self.problem(node, f"prompt {name!r} is missing {', '.join(absent)}: add "
                               + ", ".join(f"'{lang}: ...'" for lang in absent))
        return Prompt(name, line, texts=texts)
