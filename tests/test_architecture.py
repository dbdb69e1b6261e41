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
    "flow": {"calendar", "esl", "flowspec", "routing", "say", "sounds", "store", "yamlsrc"},
    # wiring: the emulated switch + outbound server + flow handler (simulate, demo, tests)
    "app": {"esl", "flow", "routing", "sim"},
    "campaign": {"calendar", "esl", "flow", "routing", "store", "yamlsrc"},
    "demo": {"app", "calendar", "campaign", "esl", "flow", "routing", "sim", "store"},
    # live operations read routing's, the store's and the switch's state; nothing imports live
    "live": {"esl", "routing", "store"},
    # versions of the whole line: validates flows and campaigns, renders and loads node config
    "deploy": {"campaign", "conf", "esl", "flow"},
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
