"""`fsapp conf render`: write FreeSWITCH configuration for fsapp from freeswitch-conf/."""
from __future__ import annotations

import json
from pathlib import Path

import click


@click.group()
def conf():
    """FreeSWITCH configuration rendered from the freeswitch-conf/ jinja2 templates."""


@conf.command()
@click.option("--out", "out_dir", default="var/freeswitch-conf", show_default=True,
              type=click.Path(file_okay=False),
              help="Directory to write into; its layout mirrors FreeSWITCH's conf/ directory.")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE",
              help="Set or override a template variable, e.g. --var esl_inbound_acl=lan. Repeatable.")
@click.option("--templates", "templates_dir", default=None, type=click.Path(file_okay=False),
              help="Template directory. Default: ./freeswitch-conf.")
@click.option("--flows", "flows_dir", default=None, type=click.Path(file_okay=False),
              help="Flow directory whose numbers: are routed. Default: [flows] dir.")
@click.option("--worker", "workers", multiple=True, metavar="HOST:PORT",
              help="An fsapp serve worker the dialplan tries, in turn (repeatable; default: "
                   "socket_address, i.e. [serve] listen).")
@click.option("--dry-run", is_flag=True, help="Render and check everything, write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.pass_obj
def render(cfg, out_dir, variables, templates_dir, flows_dir, workers, dry_run, as_json):
    """Render dialplan, event socket and module configuration for a real FreeSWITCH 1.10.

    Every output file is checked to be well-formed XML of the shape FreeSWITCH loads.
    A variable a template needs but nobody set is an error naming template, line and variable.
    """
    from fsapp.conf import ConfError, build_context, default_templates_dir, parse_var, render_tree
    from fsapp.yamlsrc import SourceError

    try:
        overrides = dict(parse_var(v) for v in variables)
        context, notes = build_context(cfg, flows_dir=flows_dir, overrides=overrides,
                                       workers=list(workers) or None)
        result = render_tree(templates_dir or default_templates_dir(), context)
        written = [] if dry_run else result.write(out_dir)
    except ConfError as exc:
        raise click.ClickException(str(exc)) from None
    except SourceError as exc:   # a flow file that is not YAML: where, what and the hint
        raise click.ClickException(exc.report()) from None
    targets = written or [Path(out_dir) / name for name in sorted(result.files)]
    if as_json:
        click.echo(json.dumps({
            "written": not dry_run,
            "files": [str(p) for p in targets],
            "flows": [{"name": f.name, "numbers": list(f.numbers), "file": f.file}
                      for f in context["flows"]],
            "notes": notes,
        }))
        return
    verb = "would write" if dry_run else "wrote"
    for path in targets:
        click.echo(f"{verb} {path}")
    for flow in context["flows"]:
        click.echo(f"flow {flow.name}: {', '.join(flow.numbers)} -> socket "
                   f"{', '.join(context['workers'])} {context['socket_mode']}")
    for note in notes:
        click.echo(f"note: {note}", err=True)
