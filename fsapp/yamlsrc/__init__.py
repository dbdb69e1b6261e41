"""YAML sources with positions: the bottom layer every fsapp file reader shares.

- errors: SourceError, the one error type (file, line, col, message, hint);
- nodes: compose() to a node tree with line/column marks, refusing custom tags, merge
  keys, recursive aliases and alias bombs; pairs() (unique keys), scalar(), plain();
- located: load_located() to dicts/lists that remember their lines, for configuration
  files checked as plain values (calendars, routing).

It imports nothing from fsapp but itself, so flow, campaign, calendar, routing, sounds
and conf can all build on it.
"""
from fsapp.yamlsrc.errors import SourceError
from fsapp.yamlsrc.located import Located, LocatedList, load_located, loads_located
from fsapp.yamlsrc.nodes import MAX_VALUES, check_tree, compose, pairs, plain, position, scalar

__all__ = ["MAX_VALUES", "Located", "LocatedList", "SourceError", "check_tree", "compose",
           "load_located", "loads_located", "pairs", "plain", "position", "scalar"]
