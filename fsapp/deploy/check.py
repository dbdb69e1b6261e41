"""Validate a whole file set before anything is installed: the flows against the staged
catalog, calendars, routing and named queries (fsapp.app.environment), and the campaigns against the
staged flows. Problems name the file the operator gave (or the installed one)."""
from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Mapping

from fsapp.deploy.line import Layout, write


def check(cfg, files: Mapping[str, bytes], real: Layout, origin: Mapping[str, str] | None = None):
    """(problems, notes) of the line `files` would make. `origin` maps logical paths to
    the paths to print for them (the operator's own files); others print where they are
    installed."""
    from fsapp.campaign.loader import load_campaigns, references_from_config
    from fsapp.flow.compiler import compile_paths
    from fsapp.app.environment import from_config

    origin = dict(origin or {})
    with tempfile.TemporaryDirectory(prefix="fsapp-check-") as tmp:
        root = Path(tmp)
        staged = Layout(flows=root / "flows", routing=root / "routing.yaml", calendars=root / "calendars.yaml",
                        catalog=root / "sounds" / "catalog.yaml", campaigns=root / "campaigns",
                        queries=root / "queries")
        write(staged, files)
        staged.flows.mkdir(exist_ok=True)
        scfg = cfg.with_values("flows", dir=str(staged.flows), calendars=str(staged.calendars))
        scfg = scfg.with_values("routing", config=str(staged.routing))
        scfg = scfg.with_values("sounds", dir=str(staged.catalog.parent))
        scfg = scfg.with_values("store", queries=str(staged.queries))
        env = from_config(scfg)
        result = compile_paths([staged.flows], env)
        problems = list(result.problems)
        camp_files = [p for p in sorted(staged.campaigns.glob("*.yaml"))] if staged.campaigns.is_dir() else []
        if camp_files:
            _, camp_problems = load_campaigns(camp_files, **references_from_config(scfg, result.flows))
            problems += camp_problems

        def where(path: str) -> str:
            try:
                rel = Path(path).resolve().relative_to(root.resolve())
            except ValueError:
                return path
            logical = rel.as_posix()   # the staged layout mirrors the logical paths
            if logical in origin:
                return origin[logical]
            try:
                return str(real.path_of(logical))
            except ValueError:
                return path
        problems = sorted(replace(p, file=where(p.file)) for p in problems)
        return problems, list(env.notes)
