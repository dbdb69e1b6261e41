"""The phrase configuration's languages (conf/lang): what `say` looks a language up in.

The switch holds its own copy (`sw.say_languages`: name -> (say module, sound-prefix));
these are the tables it starts from.
"""
from __future__ import annotations

SOUNDS_DIR = "/usr/local/freeswitch/share/freeswitch/sounds"
# vanilla conf/lang: English only (lang/ holds de en es fr he pt ru sv, none for zh)
DEFAULT_LANGUAGES = {"en": ("en", f"{SOUNDS_DIR}/en/us/callie")}
# what the capture's temporary lang/zh/zh.xml defined
ZH_LANGUAGES = {"zh": ("zh", f"{SOUNDS_DIR}/zh/cn/sinmei"), "zh_CN": ("zh_CN", f"{SOUNDS_DIR}/zh/cn/sinmei")}
