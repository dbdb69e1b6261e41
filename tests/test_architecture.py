"""The allowed arrows between fsapp's packages, checked from the imports themselves.

Every module under fsapp/ is parsed (ast) and every import is checked, including the
ones inside functions (deferred imports are still dependencies). An import of another
fsapp package that is not an allowed arrow fails with the file, line and import named.
docs/architecture.md draws the same arrows; a new package or arrow goes into ALLOWED
(and the drawing) on purpose, in the same change.
"""
from __future__ import annotations

import ast
from pathlib import Path

FSAPP = Path(__file__).resolve().parents[1] / "fsapp"

# package -> the fsapp packages it may import. `config` and `log` are the shared
# foundation; yamlsrc and flowspec are leaves every file reader builds on.
FOUNDATION = {"config", "log"}
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "log": set(),
    "config_doc": {"config"},
    "yamlsrc": set(),
    "flowspec": set(),
    "sim": set(),                      # the emulator: FreeSWITCH's side of the wire, on its own
    "esl": set(),
    "say": set(),
    "staffing": set(),
    "calendar": {"yamlsrc"},
    "store": set(),
    "sounds": {"flowspec", "yamlsrc"},
    "conf": {"flowspec", "yamlsrc"},
    "report": {"store"},
    "routing": {"calendar", "esl", "store", "yamlsrc"},
    "loadsim": {"report", "routing", "staffing"},
    # the flow language (loader, compiler, interpreter): what it validates against and the
    # services a call uses are handed in (fsapp.app builds them), so it reads no config
    "flow": {"esl", "flowspec", "yamlsrc"},
    # wiring: the validation environment and the services flows use, built from the config
    # (serve, validate, deploy, demo, campaigns), and the emulated switch + outbound server +
    # flow handler (simulate, demo, tests)
    "app": {"calendar", "esl", "flow", "routing", "say", "sim", "sounds", "store"},
    "campaign": {"calendar", "esl", "flow", "routing", "store", "yamlsrc"},
    "demo": {"app", "calendar", "campaign", "esl", "flow", "report", "routing", "sim", "store"},
    # live operations read routing's, the store's and the switch's state; nothing imports live
    "live": {"esl", "routing", "store"},
    # versions of the whole line: validates flows and campaigns, renders and loads node config
    "deploy": {"app", "campaign", "conf", "esl", "flow", "yamlsrc"},
    "cli": {"app", "calendar", "campaign", "conf", "demo", "deploy", "esl", "flow", "flowspec", "live", "loadsim",
            "report", "routing", "say", "sim", "sounds", "staffing", "store", "yamlsrc"},
}


def _package_of(path: Path, root: Path) -> tuple[str, str]:
    """(package, dotted module name) of a file under fsapp/."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    return (parts[1] if len(parts) > 1 else "fsapp"), module


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The fsapp modules (dotted) one import statement names."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:  # relative: resolve against this module's package
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[:len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([base] if base else []))
    if base == "fsapp":  # from fsapp import yamlsrc, log
        return [f"fsapp.{a.name}" for a in node.names]
    return [base]


def imports_by_package(root: Path = FSAPP):
    """(package, file, line, imported package, import text) for every fsapp import."""
    for path in sorted(root.rglob("*.py")):
        package, module = _package_of(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            for name in _imported(node, module, path.name == "__init__.py"):
                parts = name.split(".")
                if parts[0] == "fsapp" and len(parts) > 1 and parts[1] != package:
                    yield package, path, node.lineno, parts[1], ast.unparse(node)


def test_every_import_between_packages_is_an_allowed_arrow():
    wrong = []
    for package, path, line, target, text in imports_by_package():
        if package == "fsapp":  # fsapp/__init__.py: the version only
            wrong.append(f"{path.relative_to(FSAPP.parent)}:{line}: fsapp/__init__.py imports "
                         f"{target} ({text})")
        elif package not in ALLOWED:
            wrong.append(f"{path.relative_to(FSAPP.parent)}:{line}: package {package!r} is not in "
                         f"tests/test_architecture.py ALLOWED; add it with its arrows")
        elif target not in ALLOWED[package] | FOUNDATION:
            wrong.append(f"{path.relative_to(FSAPP.parent)}:{line}: {package} -> {target} is not an "
                         f"allowed arrow: `{text}` (allowed from {package}: "
                         f"{', '.join(sorted(ALLOWED[package])) or 'nothing but config, log'})")
    assert not wrong, "imports against docs/architecture.md:\n" + "\n".join(sorted(set(wrong)))


def test_the_allowed_arrows_have_no_cycle():
    seen: dict[str, str] = {}

    def visit(package: str, path: tuple[str, ...]) -> None:
        if seen.get(package) == "done":
            return
        assert package not in path, "cycle: " + " -> ".join(path + (package,))
        for target in sorted(ALLOWED[package] | (FOUNDATION - {package})):
            if package not in FOUNDATION:
                visit(target, path + (package,))
        seen[package] = "done"

    for package in ALLOWED:
        visit(package, ())


def test_every_package_is_in_the_arrows_and_the_drawing():
    packages = {p.name for p in FSAPP.iterdir() if (p / "__init__.py").exists()}
    packages |= {p.stem for p in FSAPP.glob("*.py") if p.stem != "__init__"}
    assert packages == set(ALLOWED), f"ALLOWED lacks {sorted(packages - set(ALLOWED))} / " \
                                     f"names gone packages {sorted(set(ALLOWED) - packages)}"
    doc = (FSAPP.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert all(f"fsapp.{p}" in doc for p in packages - {"config_doc"}), \
        [p for p in packages if f"fsapp.{p}" not in doc]


def test_a_forbidden_import_is_named(tmp_path):
    """The check itself: an import inside a function is found and named with its line."""
    fake = tmp_path / "fsapp"
    (fake / "sim").mkdir(parents=True)
    (fake / "sim" / "__init__.py").write_text("")
    (fake / "sim" / "x.py").write_text("def f():\n    from fsapp.flow import compiler\n"
                                       "from . import y\nfrom fsapp import yamlsrc\n")
    found = [(p, t, line, text) for p, _, line, t, text in imports_by_package(fake)]
    assert found == [("sim", "yamlsrc", 4, "from fsapp import yamlsrc"),
                     ("sim", "flow", 2, "from fsapp.flow import compiler")]


# ---- inside fsapp.sim: layers, no cycles, applications through services -----------------
# Each layer may import its own and the layers before it, never a later one. The
# applications (fsapp/sim/apps/*) register themselves (fsapp/sim/registry.py) and are found
# by registry.discover(): nothing outside fsapp/sim/apps imports one. mod_callcenter is an
# optional module: only Switch.load_module loads it (by name, OPTIONAL_MODULES).
SIM = FSAPP / "sim"
SIM_LAYERS: list[tuple[str, set[str]]] = [
    ("base", {"clock", "wire", "fsstrings", "events", "media", "voice", "phrases", "registry", "services", "ivrconf"}),
    ("channel", {"mediaqueue", "channelparts", "channel"}),
    ("endpoints", {"legs", "agents", "bridging", "listener", "commands", "sendevent"}),
    ("applications", {"apps", "apps.*"}),
    ("dialplan", {"dialplan"}),
    ("modules", {"callcenter"}),
    ("switch", {"api", "inbound", "caller", "switch", "__init__"}),
]
# what sees the switch only through `services` (fsapp/sim/services.py)
SERVICES_ONLY = {"channel", "endpoints", "applications", "modules"}


def _sim_modules(root: Path):
    """(short name, path, ast) of every module of a sim package: "channel", "apps.bridge"."""
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)
        yield name, path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _layer_of(name: str, layers) -> int | None:
    for rank, (_, members) in enumerate(layers):
        if name in members or any(m.endswith(".*") and name.startswith(m[:-1]) for m in members):
            return rank
    return None


def _sim_imports(name: str, path: Path, tree: ast.AST, root: Path):
    """(line, imported sim module short name, text, inside a function) per sim import."""
    module = "fsapp.sim" + ("" if name == "__init__" else "." + name)
    is_package = path.name == "__init__.py"
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        for target in _imported(node, module, is_package):
            if not target.startswith("fsapp.sim"):
                continue
            short = target[len("fsapp.sim."):] if target != "fsapp.sim" else "__init__"
            if isinstance(node, ast.ImportFrom) and short in ("", "__init__", "apps"):
                # from . import wire / from .. import media: the names are the modules
                base = "" if short == "__init__" else short + "."
                shorts = [base + a.name for a in node.names]
            else:
                shorts = [short]
            for s in shorts:
                if not (root / (s.replace(".", "/") + ".py")).exists() and \
                        not (root / s.replace(".", "/") / "__init__.py").exists():
                    continue     # a name imported from a module, not a module
                up, nested = node, False
                while up in parents:
                    up = parents[up]
                    nested |= isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                yield node.lineno, s, ast.unparse(node), nested


def sim_problems(root: Path = SIM, layers=SIM_LAYERS, services: frozenset[str] | None = None) -> list[str]:
    if services is None:
        from fsapp.sim.services import SERVICES
        services = SERVICES
    problems, graph = [], {}
    modules = list(_sim_modules(root))
    for name, path, tree in modules:
        where = f"fsapp/sim/{path.relative_to(root)}"
        rank = _layer_of(name, layers)
        if rank is None:
            problems.append(f"{where}: module {name!r} is in no layer of tests/test_architecture.py "
                            f"SIM_LAYERS; put it in one")
            continue
        graph[name] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        problems.append(f"{where}:{inner.lineno}: import inside a function "
                                        f"(`{ast.unparse(inner)}`); import at the top of the module")
        for line, target, text, _nested in _sim_imports(name, path, tree, root):
            if target == name:
                continue
            graph[name].add(target)
            to = _layer_of(target, layers)
            if to is not None and to > rank:
                problems.append(f"{where}:{line}: {layers[rank][0]} layer imports {target} of the later "
                                f"{layers[to][0]} layer (`{text}`)")
            if target.startswith("apps.") and not name.startswith("apps"):
                problems.append(f"{where}:{line}: imports the application module {target} (`{text}`); "
                                f"applications register themselves (fsapp/sim/registry.py)")
            if target == "callcenter":
                problems.append(f"{where}:{line}: imports the optional mod_callcenter (`{text}`); "
                                f"Switch.load_module loads it when asked")
        if layers[rank][0] in SERVICES_ONLY:
            for node in ast.walk(tree):
                if not isinstance(node, ast.Attribute):
                    continue
                if node.attr == "switch":
                    problems.append(f"{where}:{node.lineno}: `{ast.unparse(node)}`: below the dialplan "
                                    f"the switch is reached as `services` (fsapp/sim/services.py)")
                base = node.value
                if ((isinstance(base, ast.Attribute) and base.attr == "services")
                        or (isinstance(base, ast.Name) and base.id == "services")) and node.attr not in services:
                    problems.append(f"{where}:{node.lineno}: `{ast.unparse(node)}`: {node.attr!r} is not "
                                    f"in fsapp/sim/services.py Services; add it there on purpose or do "
                                    f"without")
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in done or module not in graph:
            return
        if module in path:
            problems.append("import cycle in fsapp/sim: " + " -> ".join(path[path.index(module):] + (module,)))
            return
        for target in sorted(graph[module]):
            visit(target, path + (module,))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())
    return problems


def test_sim_is_layered_without_cycles_and_applications_use_services():
    problems = sim_problems()
    assert not problems, "fsapp/sim against its layers (docs/architecture.md):\n" + "\n".join(problems)


def test_sim_checks_name_what_is_wrong(tmp_path):
    """The sim checks themselves, on a made-up emulator."""
    root = tmp_path / "sim"
    (root / "apps").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "apps" / "__init__.py").write_text("")
    (root / "channel.py").write_text("from . import legs\n\ndef f(ch):\n    return ch.services.dialplan\n")
    (root / "legs.py").write_text("def g():\n    from .channel import X\n    return X\n")
    (root / "apps" / "ivr.py").write_text("from ..channel import Y\n\ndef app(ch):\n    ch.switch.fire()\n")
    (root / "orphan.py").write_text("")
    layers = [("base", set()), ("channel", {"channel"}), ("endpoints", {"legs"}),
              ("applications", {"apps", "apps.*"}), ("switch", {"__init__"})]
    problems = sim_problems(root, layers, frozenset({"fire"}))
    text = "\n".join(problems)
    assert "fsapp/sim/orphan.py: module 'orphan' is in no layer" in text
    assert "fsapp/sim/channel.py:1: channel layer imports legs of the later endpoints layer" in text
    assert "fsapp/sim/channel.py:4: `ch.services.dialplan`: 'dialplan' is not in fsapp/sim/services.py" in text
    assert "fsapp/sim/legs.py:2: import inside a function (`from .channel import X`)" in text
    assert "fsapp/sim/apps/ivr.py:4: `ch.switch`: below the dialplan the switch is reached as `services`" in text
    assert "import cycle in fsapp/sim: channel -> legs -> channel" in text


# ---- inside fsapp.esl: the sans-IO layers ------------------------------------------------
# wire (framing) and the session rules are pure: bytes and events in, commands and results
# out. Sockets and greenlets belong to the drivers (connection, call, outbound, inbound),
# also through any module a session module imports; clocks and randomness too (the time is
# passed in). docs/esl.md, "Layers".
ESL = FSAPP / "esl"
SANS_IO = ("wire", "session", "call_session", "inbound_session")
NO_IO = {"gevent", "socket", "select", "selectors", "ssl", "asyncio", "threading", "subprocess"}
NO_CLOCK = {"time", "datetime", "random"}
DRIVERS = {"connection", "call", "outbound", "inbound"}


def _module_imports(path: Path, module: str):
    """(line, imported dotted name, text) of every import of one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        for target in _imported(node, module, False):
            if isinstance(node, ast.ImportFrom) and target in ("fsapp", "fsapp.esl"):
                for alias in node.names:
                    yield node.lineno, f"{target}.{alias.name}", ast.unparse(node)
            else:
                yield node.lineno, target, ast.unparse(node)


def sans_io_problems(root: Path = ESL, modules=SANS_IO) -> list[str]:
    problems = []
    for name in modules:
        if not (root / f"{name}.py").exists():
            problems.append(f"fsapp/esl/{name}.py is missing")
            continue
        todo, seen = [(name, (name,))], set()
        while todo:        # this module and every fsapp module it imports, transitively
            current, chain = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            path = root / f"{current}.py" if current != "log" else root.parent / "log.py"
            if not path.exists():
                continue
            where = f"fsapp/{'esl/' if current != 'log' else ''}{current}.py"
            via = f" (via {' -> '.join(chain)})" if len(chain) > 1 else ""
            for line, target, text in _module_imports(path, f"fsapp.esl.{current}"):
                parts = target.split(".")
                if parts[0] in NO_IO or (parts[0] in NO_CLOCK and current == name):
                    problems.append(f"{where}:{line}: a sans-IO module imports {target} (`{text}`){via}")
                elif parts[:2] == ["fsapp", "esl"] and len(parts) > 2:
                    if parts[2] in DRIVERS:
                        problems.append(f"{where}:{line}: a sans-IO module imports the driver {parts[2]}{via}")
                    todo.append((parts[2], chain + (parts[2],)))
                elif parts[:2] == ["fsapp", "log"]:
                    todo.append(("log", chain + ("log",)))
    return sorted(set(problems))


def test_the_esl_session_layers_do_no_io():
    problems = sans_io_problems()
    assert not problems, "\n".join(problems)


def test_the_sans_io_check_names_what_is_wrong(tmp_path):
    (tmp_path / "session.py").write_text("import gevent\nfrom time import monotonic\n"
                                         "from fsapp.esl import connection, helper\n")
    (tmp_path / "helper.py").write_text("import time\nfrom gevent.event import Event\n")
    (tmp_path / "wire.py").write_text("def f():\n    import socket\n")
    text = "\n".join(sans_io_problems(tmp_path, ("wire", "session", "gone")))
    assert "fsapp/esl/session.py:1: a sans-IO module imports gevent" in text
    assert "fsapp/esl/session.py:2: a sans-IO module imports time" in text
    assert "fsapp/esl/session.py:3: a sans-IO module imports the driver connection" in text
    assert "fsapp/esl/helper.py:2: a sans-IO module imports gevent.event (`from gevent.event import Event`) " \
           "(via session -> helper)" in text
    assert "helper.py:1" not in text          # a clock read is checked in the module itself only
    assert "fsapp/esl/wire.py:2: a sans-IO module imports socket" in text
    assert "fsapp/esl/gone.py is missing" in text


def test_a_channel_is_a_small_composition():
    """fsapp/sim/channel.py composes its parts (fsapp/sim/channelparts.py, mediaqueue.py)
    instead of carrying every field itself (it had 53): a new field goes into its part."""
    from fsapp.sim import Switch
    from fsapp.sim.channel import Channel
    from fsapp.sim.channelparts import CallerProfile, ChannelState, Links, Run, Variables
    from fsapp.sim.mediaqueue import MediaQueue

    ch = Channel(Switch(password="x", esl=("127.0.0.1", 0)), name="sofia/internal/1001", direction="inbound",
                 destination="12345")
    parts = {"status": ChannelState, "profile": CallerProfile, "links": Links, "run": Run, "vars": Variables,
             "queue": MediaQueue}
    assert all(isinstance(getattr(ch, name), kind) for name, kind in parts.items())
    own = set(vars(ch)) - set(parts)
    assert own <= {"services", "clock", "uuid", "name", "direction", "session_id", "caller", "voice", "sessions"}, own
    assert not [k for k, v in vars(Channel).items() if not k.startswith("__") and not callable(v)
                and not isinstance(v, property)]
