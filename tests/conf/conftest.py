"""Helpers for the conf tests: a flows directory and an isolated config."""
from __future__ import annotations

from pathlib import Path

import pytest

from fsapp import config as config_mod


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    d = tmp_path / "ivr_flows"
    d.mkdir()
    (d / "hotline.yaml").write_text('flow: hotline\nnumbers: ["12345", "+8657112345"]\n'
                                    "start: menu\n", encoding="utf-8")
    (d / "water.yaml").write_text("flow: water\nnumbers: 96116\n", encoding="utf-8")
    return d


@pytest.fixture
def make_cfg(tmp_path: Path):
    """A Config from TOML text and an explicit environment (never the developer's own)."""
    def make(toml: str = "", **env: str):
        path = tmp_path / "fsapp.toml"
        path.write_text(toml, encoding="utf-8")
        env = {"FSAPP_ESL_PASSWORD": "Str0ng-Secret", **env}
        return config_mod.load(path, env={k: v for k, v in env.items() if v is not None})
    return make
