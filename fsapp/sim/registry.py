"""The application registry: dialplan applications by name, each from the module that
implements it.

An application module (any module in the fsapp/sim/apps package) registers what it
implements when it is imported:

    from ..registry import application

    @application("ivr")
    def app_ivr(ch, arg: str) -> None:
        ...

`discover()` imports every module of fsapp/sim/apps (once), so adding an application is
one new module there: nothing else names it. A Switch copies the registry into its own
table (`sw.applications`); an optional module (mod_callcenter, `sw.load_module`) adds
its applications to that switch's table only.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

Application = Callable[..., None]   # (channel, arg) -> None; results go to channel variables

APPLICATIONS: dict[str, Application] = {}
APPS_PACKAGE = "fsapp.sim.apps"
_discovered = False


def application(name: str) -> Callable[[Application], Application]:
    """Register `fn(channel, arg)` as the dialplan application `name` (a name is taken once)."""
    def register(fn: Application) -> Application:
        known = APPLICATIONS.get(name)
        if known is not None and known is not fn:
            raise ValueError(f"sim application {name!r} registered twice: {known.__module__}.{known.__name__} "
                             f"and {fn.__module__}.{fn.__name__}; rename one of them")
        APPLICATIONS[name] = fn
        return fn
    return register


def discover() -> dict[str, Application]:
    """Import every application module of fsapp/sim/apps; the registry, filled."""
    global _discovered
    if not _discovered:
        package = importlib.import_module(APPS_PACKAGE)
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            if not info.name.startswith("_"):
                importlib.import_module(f"{APPS_PACKAGE}.{info.name}")
        _discovered = True
    return APPLICATIONS
