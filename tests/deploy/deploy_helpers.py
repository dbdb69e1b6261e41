"""Shared by the deploy tests: a one-node flow that says goodbye on 20000."""

LIVE = """flow: live
numbers: ["20000"]
languages: [zh-CN]
start: bye
nodes:
  bye: {hangup: {prompt: common/goodbye}}
"""
