"""docs/index.md lists every page, and relative links in the docs resolve."""
import re

import pytest
from doccheck import DOCS, ROOT

LINK = re.compile(r"\[[^\]]*\]\(([^)\s#]+)(#[^)]*)?\)")


def test_index_lists_every_page():
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    linked = set(LINK.findall(index))
    pages = {p.name for p in DOCS.glob("*.md")} - {"index.md"}
    missing = sorted(pages - {target for target, _ in linked})
    assert not missing, f"docs/index.md does not list: {', '.join(missing)}"


@pytest.mark.parametrize("page", ["index.md", "user-guide.md", "operations.md", "configuration.md"])
def test_relative_links_resolve(page):
    text = (DOCS / page).read_text(encoding="utf-8")
    broken = [target for target, _ in LINK.findall(text)
              if not re.match(r"[a-z]+:", target) and not (DOCS / target).resolve().exists()]
    assert not broken, f"docs/{page}: broken links {broken}"


def test_readme_points_at_the_docs_it_promises():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target, _ in LINK.findall(readme):
        if target.startswith("docs/"):
            assert (ROOT / target).exists(), f"README.md links to missing {target}"
