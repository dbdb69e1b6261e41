"""Deploys as versions of the whole line: content-hashed, immutable, diffable, restorable.

model.py  pure: a Version (files + hash + who/when/why) and the content hash
diff.py   pure: what changed between two file sets (flows, nodes, numbers, queues, prompts)
line.py   edge: which files make up the line (from the configuration), read and write them
check.py  edge: validate a file set as a whole before anything is installed
store.py  edge: where versions live (var/versions locally, Redis in production)
"""
from fsapp.deploy.diff import Diff, diff
from fsapp.deploy.model import Version, content_hash

__all__ = ["Diff", "Version", "content_hash", "diff"]
