"""ivr.conf's menus as FreeSWITCH's XML registry holds them: the <menu> elements of
conf_dir/ivr_menus/*.xml (what the vanilla autoload_configs/ivr.conf.xml includes inside
<menus>), read when the switch starts and again on `reloadxml` (all or nothing). The `ivr`
application (fsapp/sim/apps/ivr.py) reads them through the switch's services."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path


def read_menus(conf_dir) -> dict[str, ET.Element]:
    """<menu> elements of conf_dir/ivr_menus/*.xml by name, files in name order (the
    include's glob order); raises ValueError naming a file that is not well-formed."""
    menus: dict[str, ET.Element] = {}
    for path in sorted((Path(conf_dir) / "ivr_menus").glob("*.xml")):
        try:
            root = ET.fromstring(path.read_text(encoding="utf-8"))
        except ET.ParseError as exc:
            raise ValueError(f"{path}: not well-formed XML: {exc}") from None
        for el in root.iter("menu"):
            # switch_xml_find_child returns the first menu of that name
            menus.setdefault(el.get("name", ""), el)
    return menus
