"""FreeSWITCH configuration rendered from the jinja2 templates in freeswitch-conf/.

`fsapp conf render` turns fsapp's own settings (fsapp.toml / FSAPP_* environment) and the
numbers declared by the flows in ivr_flows/ into the XML a stock FreeSWITCH 1.10 reads:
a dialplan fragment that hands each flow's numbers to fsapp's outbound socket server,
event_socket.conf.xml for the inbound connection, and the list of modules fsapp needs.

    from fsapp.conf import build_context, render_tree
    ctx = build_context(cfg, flows_dir="ivr_flows", overrides={"esl_inbound_acl": "lan"})
    result = render_tree("freeswitch-conf", ctx)       # -> RenderResult(files={...}, notes=[...])
    result.write("var/freeswitch-conf")
"""
from fsapp.conf.context import REQUIRED_MODULES, build_context, parse_var
from fsapp.conf.errors import ConfError
from fsapp.conf.flow_numbers import FlowNumbers, read_flow_numbers
from fsapp.conf.render import RenderResult, default_templates_dir, render_tree

__all__ = [
    "ConfError", "FlowNumbers", "REQUIRED_MODULES", "RenderResult", "build_context",
    "default_templates_dir", "parse_var", "read_flow_numbers", "render_tree",
]
