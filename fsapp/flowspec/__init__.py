"""The flow language's declarative specification, as a leaf package every reader of
flow files shares: the compiler and interpreter (fsapp.flow), `fsapp sounds check`
(fsapp.sounds, prompt keys) and the dialplan renderer (fsapp.conf, which files are
flows). It imports nothing from fsapp.

- kinds: node kinds, their fields and types, prompt items, built-in variables,
  PROMPT_KEYS (derived from the prompt fields), WAITING_KINDS and the edge labels of
  targets inside a field (option_label, mode_label, case_label);
- files: which files of a directory are flows (flow_files, is_flow_file).
"""
from fsapp.flowspec.files import FLOW_SUFFIXES, TEST_SUFFIXES, flow_files, is_flow_file
from fsapp.flowspec.kinds import (BUILTIN_VARS, FLOW_FIELDS, FLOW_KEY, KINDS, NODE_COMMON, NUMBERS_KEY,
                                  ON_HANGUP_WHEN,
                                  PROMPT_ITEMS, PROMPT_KEYS, WAITING_KINDS, Field, Kind, case_label,
                                  mode_label, option_label)

__all__ = ["BUILTIN_VARS", "FLOW_FIELDS", "FLOW_KEY", "FLOW_SUFFIXES", "KINDS", "NODE_COMMON", "NUMBERS_KEY",
           "ON_HANGUP_WHEN",
           "PROMPT_ITEMS", "PROMPT_KEYS", "TEST_SUFFIXES", "WAITING_KINDS", "Field", "Kind",
           "case_label", "flow_files", "is_flow_file", "mode_label", "option_label"]
