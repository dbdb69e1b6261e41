"""Helpers of the docs tests.

1. Find the `fsapp ...` command lines in markdown and check each against the real CLI:
   the verb exists, its subcommands exist, and every option shown is one that
   `fsapp VERB [SUB] --help` lists.
2. Pull out the runnable parts of a doc, in order: files to write (a fence right after
   `<!-- doc-test file: PATH -->`) and ```sh blocks whose first line is `# doc-test`.

A command is checked only where it is code: a shell fence, a `$ ` line of a console
fence, an inline `code` span, or (less strictly) an untyped fence. Prose may say
"fsapp serve workers" without being parsed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from click.testing import CliRunner

from fsapp.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

# a fenced block, also indented inside a list item: (indent, info, body)
FENCE = re.compile(r"^([ \t]*)```([^\n`]*)\n(.*?)^\1```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
SHELL_FENCES = {"sh", "bash", "shell", "console"}
# where a command starts: line start, optional `$ ` prompt and VAR=value assignments
LEAD = r"^\s*(?:\$\s+)?(?:[A-Z_][A-Z0-9_]*=\S*\s+)*"
# a command after a pipe, `;`, `&&`, `||` or `$(` on a shell line
CHAINED = r"(?:\|\|?|;|&&|\$\()\s*(?:[A-Z_][A-Z0-9_]*=\S*\s+)*"
COMMAND = re.compile(r"(?:" + LEAD + "|" + CHAINED + r")fsapp(?![\w./:-])((?:[ \t]+[^\s|;&#)`]+)*)", re.M)
GLOBAL_WITH_VALUE = {"--config", "--log-level"}
GLOBAL_FLAGS = {"--version", "--help", "-h"}
VERB_WORD = re.compile(r"[a-z][a-z-]*")


@dataclass(frozen=True)
class Mention:
    file: str
    line: int
    text: str          # the command as written, from `fsapp` on
    words: tuple       # the tokens after `fsapp`
    strict: bool       # surely a command (shell fence, `$ ` line, inline code)


def _code(text: str):
    """(line number, code, strict) for command-like code in a markdown text.

    Shell fences (sh, bash, console) and inline code spans are commands; in a console
    fence only `$ ` lines are. Untyped/text fences mix commands and their output, so a
    line there counts only if the word after `fsapp` is a real verb (strict=False).
    Other fences (python, yaml, toml, xml, ini) are not shell.
    """
    fenced_lines = set()
    for m in FENCE.finditer(text):
        info = m.group(2).strip()
        lang = info.split()[0] if info else ""
        start_line = text.count("\n", 0, m.start(3)) + 1
        for i, line in enumerate(m.group(3).split("\n")):
            fenced_lines.add(start_line + i)
            if lang == "console" and not line.lstrip().startswith("$"):
                continue
            if lang in SHELL_FENCES:
                yield start_line + i, line, True
            elif lang in ("", "text"):
                yield start_line + i, line, False
    for no, line in enumerate(text.split("\n"), 1):
        if no in fenced_lines or line.lstrip().startswith("```"):
            continue
        for m in INLINE.finditer(line):
            yield no, m.group(1), True


def mentions(path: Path) -> list[Mention]:
    text = path.read_text(encoding="utf-8")
    found = []
    for no, code, strict in _code(text):
        code = re.sub(r"(^|\s)#(\s.*)?$", "", code)   # shell comments
        for m in COMMAND.finditer(code):
            words = tuple(w.strip("[]") for w in m.group(1).split())
            words = tuple(w for w in words if w)
            found.append(Mention(str(path.relative_to(ROOT)), no, "fsapp" + m.group(1), words, strict))
    return found


@lru_cache(maxsize=None)
def help_of(path: tuple) -> tuple[int, str]:
    """(exit code, output) of `fsapp PATH... --help`, in process."""
    result = CliRunner().invoke(main, [*path, "--help"], prog_name="fsapp")
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += f"\n{type(result.exception).__name__}: {result.exception}"
    return result.exit_code, output


def parse_help(output: str) -> tuple[set, set]:
    """(option names, subcommand names) listed by a click --help page."""
    options, commands, section = set(), set(), None
    for line in output.splitlines():
        if re.match(r"^\S.*:$", line):
            section = line[:-1]
            continue
        if section == "Options":
            m = re.match(r"^\s{2}(-[^ ].*?)(?:\s{2,}|$)", line)
            if m:
                for opt in re.split(r",\s*|\s*/\s*", m.group(1)):
                    opt = opt.split()[0] if opt.split() else ""
                    if opt.startswith("-"):
                        options.add(opt)
        elif section == "Commands":
            m = re.match(r"^\s{2}([a-z][\w-]*)\b", line)
            if m:
                commands.add(m.group(1))
    return options, commands


def valued_options(output: str) -> set:
    """The options of a --help page that take a value (shown with a metavar: `--date TEXT`,
    `--by [a|b]`): the word after one is its value, not a subcommand."""
    return {m.group(1) for m in re.finditer(r"^\s{2}(?:-\w, )?(--[\w-]+) \S", output, re.M)}


def check(mention: Mention) -> str | None:
    """None if the command exists with those options, else what is wrong."""
    words = list(mention.words)
    while words and words[0].startswith("-"):   # global options before the verb
        opt = words.pop(0)
        name = opt.split("=")[0]
        if name in GLOBAL_WITH_VALUE:
            if "=" not in opt and words:
                words.pop(0)
        elif name not in GLOBAL_FLAGS:
            return f"fsapp has no global option {name} (it has: {', '.join(sorted(GLOBAL_WITH_VALUE | GLOBAL_FLAGS))})"
    if not words:
        return None
    verb = words.pop(0)
    if "/" in verb:   # `fsapp queue/agent/tier`: each one must be a verb
        bad = [v for v in verb.split("/") if v not in COMMANDS]
        return f"no such verb(s) {bad}" if bad else None
    if not VERB_WORD.fullmatch(verb):
        return None       # a placeholder (VERB, <verb>, ...), not a command
    if verb not in COMMANDS:
        if not mention.strict:
            return None   # output text in an untyped fence, e.g. "fsapp throughput vs ..."
        return f"no such verb {verb!r} (fsapp has: {', '.join(sorted(COMMANDS))})"
    path = [verb]
    code, output = help_of(tuple(path))
    if code != 0:
        return f"`fsapp {verb} --help` exits {code}: {output.strip().splitlines()[-1:]}"
    options, commands = parse_help(output)
    valued = valued_options(output)
    value_next = False
    for word in words:
        if value_next:              # the value of the option before (e.g. `--by total`)
            value_next = False
            continue
        if word.startswith("-"):
            opt = word.split("=")[0]
            if opt not in options:
                return f"`fsapp {' '.join(path)}` has no option {opt} (it has: {', '.join(sorted(options))})"
            value_next = opt in valued and "=" not in word
        elif commands:
            if word not in commands:
                if VERB_WORD.fullmatch(word):
                    return (f"`fsapp {' '.join(path)}` has no subcommand {word!r} "
                            f"(it has: {', '.join(sorted(commands))})")
                return None   # a placeholder where a subcommand goes (`fsapp db ...`)
            path.append(word)
            code, output = help_of(tuple(path))
            if code != 0:
                return f"`fsapp {' '.join(path)} --help` exits {code}"
            options, commands = parse_help(output)
            valued = valued_options(output)
    return None


def blocks(text: str) -> list[tuple[str, str, int, str]]:
    """(info string, body without the fence's indentation, line, line before the fence)
    of every fenced block."""
    found = []
    for m in FENCE.finditer(text):
        indent = m.group(1)
        body = "".join(line[len(indent):] if line.startswith(indent) else line
                       for line in m.group(3).splitlines(keepends=True))
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        found.append((m.group(2).strip(), body, text.count("\n", 0, m.start()) + 1, before))
    return found


FILE_MARK = re.compile(r"<!--\s*doc-test file:\s*(\S+)\s*-->\s*$")


@dataclass(frozen=True)
class Step:
    line: int
    kind: str          # "file" (write body to path) or "run" (bash script)
    body: str
    path: str | None = None


def doc_steps(path: Path) -> list[Step]:
    """In document order: files to write (a fence right after `<!-- doc-test file: P -->`)
    and shell blocks to run (```sh blocks whose first line is `# doc-test`)."""
    steps = []
    for lang, body, line, before in blocks(path.read_text(encoding="utf-8")):
        mark = FILE_MARK.search(before)
        if mark:
            steps.append(Step(line, "file", body, mark.group(1)))
        elif lang in ("sh", "bash") and body.lstrip().startswith("# doc-test"):
            steps.append(Step(line, "run", body))
    return steps


def expectations(script: str) -> list[str]:
    """`# expect: TEXT` lines: TEXT must appear in the block's output."""
    return [m.group(1).strip() for m in re.finditer(r"^\s*# expect: (.+)$", script, re.M)]
