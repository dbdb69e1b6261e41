"""Compile the static part of a flow into FreeSWITCH XML IVR menus (ivr.conf).

A tree of menus, recorded prompts and transfers needs no Python: FreeSWITCH's own menu
engine (src/switch_ivr_menu.c, run by mod_dptools' `ivr` application) can play it with
fsapp out of the call path. This module translates such a tree into `<menu>` elements
and says, for every node it leaves out, which node and why it needs fsapp's runtime.

What maps onto what (attribute and action names as switch_ivr_menu_stack_xml_build reads
them; the flow names mirror them on purpose):

| flow                                   | FreeSWITCH menu                                      |
|----------------------------------------|------------------------------------------------------|
| menu.prompt / repeat_prompt            | greet-long / greet-short                             |
| play nodes before a menu               | prepended to that menu's greet-long                  |
| menu.invalid                           | invalid-sound                                        |
| menu.timeout / digit_timeout (seconds) | timeout / inter-digit-timeout (milliseconds)         |
| menu.max_failures / max_timeouts       | max-failures / max-timeouts (both default: tries)    |
| longest option key                     | digit-len                                            |
| option -> the first menu               | menu-top                                             |
| option -> the only menu that enters it | menu-back                                            |
| option -> another menu                 | menu-sub (a sub-menu; FreeSWITCH nests up to 12)     |
| option -> play, next: this menu        | menu-play-sound                                      |
| option -> transfer extension           | menu-exec-app "transfer EXT XML CONTEXT"             |
| option -> hangup without prompt        | menu-exec-app "hangup CAUSE"                         |
| on_fail -> hangup / transfer extension | exec-on-max-failures and exec-on-max-timeouts        |
| on_fail -> the menu that entered it    | nothing: the sub-menu returns to it                  |

Everything else (collect, say, record, sql, write, set, branch, queue, schedule,
subflow, templates in prompts, TTS, bridges to numbers, ...) needs the runtime; the
option that leads there is left out of the XML (an XML comment marks the spot) and listed
in the report.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fsapp.flow.model import Flow, Node

# switch_ivr_menu.c: `++stack->stack_count > 12` -> "Too many levels of recursion."
FREESWITCH_MAX_MENU_DEPTH = 12

# Why a node kind cannot run inside FreeSWITCH's menu engine.
RUNTIME_REASONS: dict[str, str] = {
    "collect": "collects digits into a variable that later nodes read",
    "say": "reads a value out with fsapp's say engine",
    "record": "records into [flows] recordings, with review keys",
    "sql": "queries the database through fsapp.store",
    "write": "writes a row through the store's durable outbox",
    "set": "evaluates expressions on call variables",
    "branch": "evaluates conditions on call variables",
    "subflow": "calls another flow with arguments",
    "return": "returns to a calling flow",
    "queue": "queues the caller in fsapp.routing (ACD)",
    "schedule": "checks a business calendar (holidays, day/night modes) in fsapp.calendar",
}


class NativeCompileError(ValueError):
    """The entry of the flow cannot run natively; the message says which node and why."""


@dataclass(frozen=True)
class RuntimeNeed:
    node: str          # the node that needs fsapp
    kind: str
    line: int
    reason: str
    via: str           # where the native tree stops, e.g. "menu main, key 2"

    def __str__(self) -> str:
        return f"{self.via}: node {self.node!r} ({self.kind}, line {self.line}) needs fsapp: {self.reason}"


@dataclass
class NativeReport:
    flow: str
    version: str
    language: str
    entry_menu: str                                   # give it to the `ivr` application
    # (application, data) for the dialplan extension: answer, the prompts before the first
    # menu (playback), ivr ENTRY_MENU, hangup.
    dialplan_actions: list[tuple[str, str | None]] = field(default_factory=list)
    menus: list[str] = field(default_factory=list)   # FreeSWITCH menu names, in output order
    # menus left with no key FreeSWITCH can run (all need fsapp): they could only time out
    keyless: list[str] = field(default_factory=list)
    runtime: list[RuntimeNeed] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # behaviour that differs slightly

    @property
    def complete(self) -> bool:
        """True when every path of the compiled tree runs inside FreeSWITCH."""
        return not self.runtime

    def __str__(self) -> str:
        lines = [f"flow {self.flow} (version {self.version}, {self.language}): "
                 f"{len(self.menus)} menu(s), entry menu {self.entry_menu!r}"]
        if self.complete:
            lines.append("every path runs inside FreeSWITCH; fsapp is not needed in the call path")
        lines += [f"needs fsapp: {need}" for need in self.runtime]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


class _Runtime(Exception):
    """Internal: this node (or prompt) cannot be expressed natively."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def _comment(text: str) -> ET.Element:
    # An XML comment may not contain "--" nor end with "-".
    return ET.Comment(" " + text.replace("--", "- -").rstrip("-") + " ")


@dataclass(frozen=True)
class _Instance:
    """One FreeSWITCH menu: a flow menu node, plus play nodes heard before it on this path."""
    menu: str
    intro: tuple[str, ...] = ()


class _NativeCompiler:
    def __init__(self, flow: Flow, language: str, sounds_dir: str, sound_ext: str):
        self.flow = flow
        self.language = language
        self.sounds_dir = sounds_dir
        self.sound_ext = sound_ext
        self.names: dict[_Instance, str] = {}
        self.parents: dict[_Instance, set[_Instance]] = {}
        self.tree_parent: dict[_Instance, _Instance | None] = {}
        self.runtime: list[RuntimeNeed] = []
        self.notes: list[str] = []

    # ---- prompts ------------------------------------------------------------------------------
    def sound_path(self, item: dict[str, Any]) -> str:
        if "name" in item:
            name = item["name"]
            if _is_template(name):
                raise _Runtime(f"prompt {name!r} is chosen per call (a template)")
            return f"{self.sounds_dir}/{self.language}/{name}{self.sound_ext}"
        if "file" in item:
            if _is_template(item["file"]):
                raise _Runtime(f"file {item['file']!r} is chosen per call (a template)")
            return item["file"]
        if "tone" in item:
            if _is_template(item["tone"]):
                raise _Runtime("its tone is chosen per call (a template)")
            return f"tone_stream://{item['tone']}"
        if "silence" in item:
            # silence_stream://0 would be endless silence in FreeSWITCH; 0 ms means none.
            ms = round(float(item["silence"]) * 1000)
            return f"silence_stream://{ms}" if ms > 0 else ""
        if "say" in item:
            raise _Runtime(f"a say item ({item['say']}) reads a value out per call")
        if "text" in item:
            raise _Runtime("a text item is spoken by TTS")
        raise _Runtime(f"unknown prompt item {sorted(item)}")

    def sound(self, prompts) -> str:
        """One FreeSWITCH file string for a prompt sequence (file_string:// joins several)."""
        paths = [path for path in map(self.sound_path, prompts) if path]
        if not paths:
            raise _Runtime("its prompt is empty")
        if any("!" in p for p in paths) and len(paths) > 1:
            raise _Runtime("a prompt path contains '!', which file_string:// uses as separator")
        return paths[0] if len(paths) == 1 else "file_string://" + "!".join(paths)

    # ---- graph walking ------------------------------------------------------------------------
    def node(self, name: str) -> Node:
        return self.flow.nodes[name]

    def follow(self, name: str) -> tuple[str, tuple[str, ...]]:
        """Skip goto nodes and gather play nodes that lead into a menu.

        Returns (first node that is neither goto nor a play leading on, play nodes passed)."""
        seen, plays = set(), []
        while name not in seen:
            seen.add(name)
            node = self.node(name)
            if node.kind == "goto":
                name = node.args["target"]
            elif node.kind == "play" and self.node(self.skip_gotos(node.args["next"])).kind in ("menu", "play"):
                plays.append(name)
                name = node.args["next"]
            else:
                return name, tuple(plays)
        raise _Runtime("it loops through goto/play nodes without waiting for the caller")

    def skip_gotos(self, name: str) -> str:
        seen = set()
        while self.node(name).kind == "goto" and name not in seen:
            seen.add(name)
            name = self.node(name).args["target"]
        return name

    def menu_name(self, inst: _Instance) -> str:
        if inst not in self.names:
            base = f"{self.flow.name}.{inst.menu}"
            name = base if not inst.intro else f"{base}+{'+'.join(inst.intro)}"
            taken = {n.lower() for n in self.names.values()}
            # FreeSWITCH finds menus by name case-insensitively (switch_xml_find_child).
            n = 2
            candidate = name
            while candidate.lower() in taken:
                candidate, n = f"{name}~{n}", n + 1
            self.names[inst] = candidate
        return self.names[inst]

    def menu_targets(self, inst: _Instance) -> list[_Instance]:
        """Menus this menu leads to directly (options through gotos and intros)."""
        out = []
        for target in self.node(inst.menu).args["options"].values():
            try:
                if self.play_back_to(inst, target) is not None:
                    continue  # menu-play-sound: stays in this menu
                end, plays = self.follow(target)
            except _Runtime:
                continue
            if self.node(end).kind == "menu" and self.prompts_native(end, plays):
                out.append(_Instance(end, plays))
        return out

    def prompts_native(self, menu: str, intro: tuple[str, ...]) -> bool:
        try:
            self.greeting(_Instance(menu, intro))
            return True
        except _Runtime:
            return False

    def greeting(self, inst: _Instance) -> tuple[str, str | None]:
        node = self.node(inst.menu)
        intro = [item for play in inst.intro for item in self.node(play).args["prompt"]]
        long = self.sound((*intro, *node.args["prompt"]))
        short = node.args.get("repeat_prompt") or (node.args["prompt"] if intro else None)
        return long, (self.sound(short) if short else None)

    # ---- structure ----------------------------------------------------------------------------
    def discover(self, root: _Instance) -> list[_Instance]:
        """Breadth-first over menu instances: a spanning tree, and who really nests whom.

        A FreeSWITCH sub-menu returns to the menu that ran menu-sub, so `parents` holds the
        menus that enter an instance by menu-sub. Going back to the tree parent is menu-back
        (no nesting) only while that parent is the one menu entering the instance; any other
        way back up nests again, which may give further instances more than one parent, so
        this repeats until nothing changes.
        """
        order, queue, links = [root], [root], []
        self.tree_parent = {root: None}
        while queue:
            inst = queue.pop(0)
            for target in self.menu_targets(inst):
                if target.menu == root.menu and not target.intro:
                    continue  # menu-top, not a sub-menu
                links.append((inst, target))
                if target not in self.tree_parent:
                    self.tree_parent[target] = inst
                    order.append(target)
                    queue.append(target)
        self.parents = {inst: set() for inst in order}
        upward = []
        for inst, target in links:
            if target == inst:
                continue  # menu-sub to itself only replays it (switch_ivr_menu_execute)
            if target in self.ancestors(inst):
                upward.append((inst, target))
            else:
                self.parents[target].add(inst)
        changed = True
        while changed:
            changed = False
            for inst, target in upward:
                is_back = target == self.tree_parent[inst] and self.parents[inst] == {target}
                if not is_back and inst not in self.parents[target]:
                    self.parents[target].add(inst)
                    changed = True
        for inst in order:
            if inst.intro and any(inst in parents for parents in self.parents.values()):
                self.notes.append(f"menu {inst.menu} after {', '.join(inst.intro)}: FreeSWITCH "
                                  f"replays greet-long, and so {', '.join(inst.intro)}, when a "
                                  f"sub-menu returns to it")
        return order

    @staticmethod
    def same_menu(a: _Instance, b: _Instance, root: _Instance) -> bool:
        """Does going to menu a land where b is? The root menu is reached without an intro."""
        return a == b or (a == _Instance(root.menu) and b == root)

    def returns_to(self, inst: _Instance, target: _Instance, root: _Instance) -> bool:
        """Is target the one menu that enters inst, so that leaving inst lands there?"""
        parent = self.tree_parent.get(inst)
        return parent is not None and self.parents.get(inst) == {parent} \
            and self.same_menu(target, parent, root)

    def ancestors(self, inst: _Instance) -> list[_Instance]:
        out = []
        while self.tree_parent.get(inst) is not None:
            inst = self.tree_parent[inst]
            out.append(inst)
        return out

    def need(self, name: str, reason: str, via: str) -> RuntimeNeed:
        node = self.node(name)
        need = RuntimeNeed(name, node.kind, node.line, reason, via)
        if need not in self.runtime:
            self.runtime.append(need)
        return need

    # ---- one menu -----------------------------------------------------------------------------
    def entry_action(self, inst: _Instance, root: _Instance, key: str, target: str) -> tuple[str, str | None]:
        """(action, param) for one option; _Runtime when the target needs fsapp."""
        end, plays = self.follow(target)
        node = self.node(end)
        if node.kind == "menu":
            target_inst = _Instance(end, plays)
            self.greeting(target_inst)  # raises _Runtime for a per-call prompt
            if target_inst.menu == root.menu and not plays:
                return "menu-top", None
            if self.returns_to(inst, target_inst, root):
                return "menu-back", None
            if target_inst in self.ancestors(inst):
                self.notes.append(f"menu {inst.menu}, key {key}: goes back to menu {end} by nesting "
                                  f"it again (menu-sub); FreeSWITCH stops after "
                                  f"{FREESWITCH_MAX_MENU_DEPTH} nested menus")
            return "menu-sub", self.menu_name(target_inst)
        if node.kind == "play":
            # follow() stops at a play only when its next is not a menu path
            raise _Runtime("a prompt followed by something other than a menu")
        if node.kind == "transfer":
            if node.args.get("extension"):
                return "menu-exec-app", self.transfer_app(node)
            raise _Runtime("a bridge to a number (its failure handling) or a transfer to another "
                           "flow goes through fsapp")
        if node.kind == "hangup":
            if node.args.get("prompt"):
                raise _Runtime("a goodbye prompt and then a hang-up are two applications; a menu "
                               "entry runs one")
            return "menu-exec-app", f"hangup {node.args.get('cause') or 'NORMAL_CLEARING'}"
        raise _Runtime(RUNTIME_REASONS.get(node.kind, f"{node.kind} nodes run in fsapp"))

    @staticmethod
    def transfer_app(node: Node) -> str:
        extension, context = str(node.args["extension"]), str(node.args.get("context") or "default")
        if _is_template(extension) or re.search(r"\s", extension + context):
            raise _Runtime("its extension is chosen per call or contains spaces")
        return f"transfer {extension} XML {context}"

    def play_back_to(self, inst: _Instance, target: str) -> str | None:
        """menu-play-sound param when the option plays prompts and comes back to this menu."""
        name = self.skip_gotos(target)
        node = self.node(name)
        if node.kind != "play":
            return None
        if self.skip_gotos(node.args["next"]) != inst.menu:
            return None
        return self.sound(node.args["prompt"])

    def on_fail(self, inst: _Instance, root: _Instance, el: ET.Element) -> None:
        target = self.node(inst.menu).args.get("on_fail")
        if not target:
            return
        via = f"menu {inst.menu}, after the last failed try"
        try:
            end, plays = self.follow(target)
        except _Runtime as rt:
            self.need(target, rt.reason, via)
            return
        node = self.node(end)
        if node.kind == "menu" and self.returns_to(inst, _Instance(end, plays), root):
            return  # the sub-menu returns to the menu that entered it
        try:
            if node.kind == "hangup" and not node.args.get("prompt"):
                app = f"hangup {node.args.get('cause') or 'NORMAL_CLEARING'}"
            elif node.kind == "transfer" and node.args.get("extension"):
                app = self.transfer_app(node)
            elif node.kind == "hangup":
                raise _Runtime("a goodbye prompt and then a hang-up are two applications; "
                               "exec-on-max-failures runs one")
            else:
                raise _Runtime(RUNTIME_REASONS.get(node.kind, "exec-on-max-failures runs a single "
                                                  "application, not another menu or a prompt"))
        except _Runtime as rt:
            self.need(end, rt.reason, via)
            el.append(_comment(f"on_fail: node {end} needs fsapp ({rt.reason}); here the ivr "
                               f"application returns and the dialplan continues"))
            return
        el.set("exec-on-max-failures", app)
        el.set("exec-on-max-timeouts", app)

    def menu_element(self, inst: _Instance, root: _Instance) -> ET.Element:
        node = self.node(inst.menu)
        args = node.args
        long, short = self.greeting(inst)
        el = ET.Element("menu", {"name": self.menu_name(inst), "greet-long": long})
        if short:
            el.set("greet-short", short)
        if args.get("invalid"):
            try:
                el.set("invalid-sound", self.sound(args["invalid"]))
            except _Runtime as rt:
                self.notes.append(f"menu {inst.menu}: invalid prompt left out: {rt.reason}")
        if args.get("repeat_prompt"):
            self.notes.append(f"menu {inst.menu}: FreeSWITCH plays greet-short (repeat_prompt) on "
                              f"each pass after the first (after a wrong key, a silence or "
                              f"menu-play-sound) and greet-long again when a sub-menu returns")
        if args.get("no_input") and args.get("no_input") != args.get("invalid"):
            self.notes.append(f"menu {inst.menu}: no_input prompt is not played natively "
                              f"(FreeSWITCH menus play nothing after a timeout)")
        el.set("timeout", str(round(float(args["timeout"]) * 1000)))
        el.set("inter-digit-timeout", str(round(float(args["digit_timeout"]) * 1000)))
        max_failures = args.get("max_failures") or args["tries"]
        el.set("max-failures", str(max_failures))
        el.set("max-timeouts", str(args.get("max_timeouts") or max_failures))
        el.set("digit-len", str(max(len(k) for k in args["options"])))
        self.on_fail(inst, root, el)
        for key, target in args["options"].items():
            via = f"menu {inst.menu}, key {key}"
            try:
                if "#" in key:
                    raise _Runtime("'#' ends digit entry in FreeSWITCH menus, so it cannot be part "
                                   "of an option (channel variable ivr_menu_terminator changes "
                                   "that for every menu)")
                sound = self.play_back_to(inst, target)
                if sound is not None:
                    action, param = "menu-play-sound", sound
                else:
                    action, param = self.entry_action(inst, root, key, target)
            except _Runtime as rt:
                end = self.skip_gotos(target)
                need = self.need(end, rt.reason, via)
                el.append(_comment(f"key {key}: node {need.node} ({need.kind}) needs fsapp: "
                                   f"{need.reason}"))
                continue
            entry = ET.SubElement(el, "entry", {"action": action, "digits": key})
            if param is not None:
                entry.set("param", param)
        return el

    def compile(self, entry: str) -> tuple[ET.Element, _Instance, str | None]:
        try:
            first, plays = self.follow(entry)
        except _Runtime as rt:
            raise NativeCompileError(f"{self.flow.path}: from {entry!r}: {rt.reason}") from None
        node = self.node(first)
        if node.kind != "menu":
            reason = RUNTIME_REASONS.get(node.kind, f"a {node.kind} node is not a menu")
            raise NativeCompileError(
                f"{self.flow.path}:{node.line}: node {first!r} ({node.kind}) is reached from "
                f"{entry!r} before any menu and needs fsapp: {reason}. Compile a static "
                f"sub-tree with entry=<a menu node>")
        # Prompts before the first menu play from the dialplan, not in its greet-long: after a
        # sub-menu returns or menu-top unwinds, FreeSWITCH replays greet-long (reps is back
        # at 0), and a welcome must not play again.
        root = _Instance(first)
        try:
            self.greeting(root)
            intro = self.sound([item for play in plays for item in self.node(play).args["prompt"]]) \
                if plays else None
        except _Runtime as rt:
            raise NativeCompileError(f"{self.flow.path}:{node.line}: menu {first!r} or the prompts "
                                     f"before it: {rt.reason}") from None
        order = self.discover(root)
        include = ET.Element("include")
        for inst in order:
            include.append(self.menu_element(inst, root))
        return include, root, intro


# FreeSWITCH's global sounds_dir (vars.xml / switch.conf), expanded at XML load time;
# fsapp's rendered sounds are installed under it, in fsapp/<language>/.
FS_SOUNDS_DIR = "$${sounds_dir}/fsapp"


def compile_to_xml(compiled_flow: Flow, *, language: str | None = None,
                   sounds_dir: str | Path = FS_SOUNDS_DIR, sound_ext: str = ".wav",
                   entry: str | None = None) -> tuple[str, NativeReport]:
    """FreeSWITCH `<include>` of `<menu>`s for conf/ivr_menus/, and a report.

    language: which prompt set to use (default: the flow's first language); prompt names
    become sounds_dir/<language>/<name><sound_ext>. sounds_dir is where FreeSWITCH finds
    fsapp's sounds: by default `$${sounds_dir}/fsapp`, which FreeSWITCH expands when it
    loads the XML (its own sounds directory), so the XML does not carry a path of the
    machine it was compiled on; a directory path is made absolute. entry: the node to start
    from (default: the flow's start); the path from it to the first menu may only hold
    play and goto nodes. Raises NativeCompileError when that path needs fsapp.
    """
    flow = compiled_flow
    language = language or flow.languages[0]
    if language not in flow.languages:
        raise NativeCompileError(f"{flow.path}: language {language!r} is not one of the flow's "
                                 f"languages: {', '.join(flow.languages)}")
    entry = entry or flow.start
    if entry not in flow.nodes:
        raise NativeCompileError(f"{flow.path}: no node named {entry!r}")
    prefix = str(sounds_dir) if "$${" in str(sounds_dir) else str(Path(sounds_dir).resolve())
    compiler = _NativeCompiler(flow, language, prefix.rstrip("/"), sound_ext)
    include, root, intro = compiler.compile(entry)
    entry_menu = compiler.menu_name(root)
    actions = [("answer", None), *([("playback", intro)] if intro else []), ("ivr", entry_menu),
               ("hangup", None)]
    dialplan = " ".join(ET.tostring(ET.Element("action", {"application": app, **({"data": data} if data else {})}),
                                    encoding="unicode") for app, data in actions)
    include.insert(0, _comment(
        f"Generated by fsapp compile from flow {flow.name} version {flow.version} ({language}); "
        f"do not edit. Install in conf/ivr_menus/ (autoload_configs/ivr.conf.xml includes "
        f"../ivr_menus/*.xml), run reloadxml, and route a number here with {dialplan}"))
    if compiler.runtime:
        include.insert(1, _comment("Left out, they need fsapp: " + "; ".join(
            f"{need.via} -> node {need.node} ({need.kind})" for need in compiler.runtime)))
    ET.indent(include, space="  ")
    xml_text = ET.tostring(include, encoding="unicode") + "\n"
    report = NativeReport(flow=flow.name, version=flow.version, language=language,
                          entry_menu=entry_menu, dialplan_actions=actions,
                          menus=[m.get("name") for m in include.iter("menu")],
                          runtime=compiler.runtime, notes=list(dict.fromkeys(compiler.notes)),
                          keyless=[m.get("name") for m in include.iter("menu") if m.find("entry") is None])
    return xml_text, report


def render(compiled_flow: Flow, **options: Any) -> str:
    """Only the XML of compile_to_xml (the same options). What needs fsapp is still listed in
    the XML, as comments at the top and where each left-out option would be."""
    return compile_to_xml(compiled_flow, **options)[0]
