"""A line of its own for the deploy tests (tmp_path): flows, routing, calendars, catalog, queries."""
import shutil
from pathlib import Path

import pytest

from fsapp import config

from deploy_helpers import LIVE

from tests.fsapp_toml import line_sections, write_fsapp_toml

ROOT = Path(__file__).resolve().parents[2]



@pytest.fixture
def project(tmp_path):
    """A line of its own: flows, routing, calendars, catalog (WAVs linked), named queries
(a copy: a deploy or rollback writes them), no campaigns."""
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "live.yaml").write_text(LIVE, encoding="utf-8")
    shutil.copy(ROOT / "routing.yaml", tmp_path / "routing.yaml")
    shutil.copy(ROOT / "calendars.yaml", tmp_path / "calendars.yaml")
    (tmp_path / "sounds").mkdir()
    shutil.copy(ROOT / "sounds" / "catalog.yaml", tmp_path / "sounds" / "catalog.yaml")
    for lang in ("zh-CN", "en-US"):
        if (ROOT / "sounds" / lang).is_dir():
            (tmp_path / "sounds" / lang).symlink_to(ROOT / "sounds" / lang, target_is_directory=True)
    shutil.copytree(ROOT / "queries", tmp_path / "queries")
    sections = line_sections(tmp_path, sounds=tmp_path / "sounds", calendars=tmp_path / "calendars.yaml",
                             routing=tmp_path / "routing.yaml")
    sections["store"]["queries"] = tmp_path / "queries"
    return config.load(write_fsapp_toml(tmp_path, sections), env={})
