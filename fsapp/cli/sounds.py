"""`fsapp sounds`: build prompts into WAV files, check flows' prompts, list the catalog."""
from __future__ import annotations

import json
from pathlib import Path

import click

from fsapp import say
from fsapp.sounds import Catalog, CatalogError, RenderError
from fsapp.sounds.build import build as build_prompts, output_size, plan
from fsapp.sounds.flowrefs import PROMPT_KEYS, prompt_refs
from fsapp.yamlsrc import SourceError


def _config(ctx):
    root = ctx.find_root()
    return root.obj


def _catalog(ctx, catalog_path: str | None) -> Catalog:
    cfg = _config(ctx)
    path = Path(catalog_path) if catalog_path else Path(cfg.get("sounds", "dir")) / "catalog.yaml"
    try:
        return Catalog.load(path)
    except CatalogError as exc:
        raise click.ClickException(f"{len(exc.problems)} problem(s) in the catalog:\n{exc}") from None


def _langs(catalog: Catalog, langs: tuple[str, ...]) -> list[str]:
    unknown = [lang for lang in langs if lang not in catalog.languages]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)} not in {catalog.file} "
                                 f"(languages: {', '.join(catalog.languages)})", param_hint="--lang")
    return list(langs) or list(catalog.languages)


catalog_option = click.option("--catalog", "catalog_path", type=click.Path(dir_okay=False),
                              help="Catalog file. Default: [sounds] dir/catalog.yaml.")
lang_option = click.option("--lang", "langs", multiple=True, metavar="LANG",
                           help="Only this language (repeatable). Default: all in the catalog.")
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.group()
def sounds():
    """Prompt catalog (sounds/catalog.yaml) and its rendered WAV files."""


@sounds.command()
@catalog_option
@lang_option
@click.option("--force", is_flag=True, help="Re-render every prompt, changed or not.")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,
              help="Prompts rendered in parallel. Default: [sounds] jobs.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar; print only the summary.")
@json_option
@click.pass_context
def build(ctx, catalog_path, langs, force, jobs, quiet, as_json):
    """Render missing or changed prompts to 8 kHz mono 16-bit WAV (espeak-ng + sox).

    Unchanged prompts (same text, voice and pipeline, per the manifest) are skipped,
    so running it again is cheap. Output: <sounds dir>/<LANG>/<NAME>.wav."""
    cfg = _config(ctx)
    catalog = _catalog(ctx, catalog_path)
    langs = _langs(catalog, langs)
    voices = cfg.get("sounds", "voices")
    jobs = jobs or cfg.get("sounds", "jobs")
    try:
        todo, _ = plan(catalog, langs, voices, force)
        if quiet or as_json or not todo:
            result = build_prompts(catalog, langs=langs, voices=voices, jobs=jobs, force=force)
        else:
            with click.progressbar(length=len(todo), label=f"rendering {len(todo)} prompts",
                                   show_pos=True, item_show_func=lambda job: job and job.name) as bar:
                result = build_prompts(catalog, langs=langs, voices=voices, jobs=jobs, force=force,
                                       progress=lambda job: bar.update(1, job))
    except RenderError as exc:
        raise click.ClickException(str(exc)) from None
    files, size = output_size(catalog)
    if as_json:
        click.echo(json.dumps({"rendered": len(result.rendered), "unchanged": result.unchanged,
                               "removed": result.removed, "seconds": round(result.seconds, 3),
                               "failed": [{"name": j.name, "lang": j.lang, "error": e}
                                          for j, e in result.failed],
                               "files": files, "bytes": size}, ensure_ascii=False))
    else:
        click.echo(f"rendered {len(result.rendered)}, unchanged {result.unchanged}, "
                   f"removed {len(result.removed)}, failed {len(result.failed)} "
                   f"in {result.seconds:.1f} s; {files} files, {size / 1e6:.1f} MB in {catalog.base}")
        for job, error in result.failed:
            click.echo(f"failed: {job.lang} {job.name}: {error}", err=True)
    if result.failed:
        ctx.exit(1)


@sounds.command()
@catalog_option
@lang_option
@click.option("--built", is_flag=True, help="Also require each prompt's WAV to exist.")
@json_option
@click.argument("flows", nargs=-1, type=click.Path(exists=True))
@click.pass_context
def check(ctx, catalog_path, langs, built, as_json, flows):
    """List prompts that flows use but the catalog lacks (exit 1 if any).

    FLOWS are flow files or directories of *.yaml; default: [flows] dir. A flow's own
    `languages:` list narrows the languages checked for it."""
    cfg = _config(ctx)
    catalog = _catalog(ctx, catalog_path)
    langs = _langs(catalog, langs)
    files: list[Path] = []
    for item in flows or [cfg.get("flows", "dir")]:
        path = Path(item)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))
        elif path.exists():
            files.append(path)
    if not files:
        click.echo(f"no flow files in {', '.join(flows or [cfg.get('flows', 'dir')])}", err=True)
    problems, checked = [], 0
    keys = PROMPT_KEYS
    for file in files:
        try:
            refs, flow_langs = prompt_refs(file, keys)
        except SourceError as exc:  # the file is named in the text: file:line:col: message
            problems.append({"file": str(file), "line": None, "name": None, "lang": None,
                             "problem": str(exc), "hint": exc.hint, "report": exc.report()})
            continue
        wanted = [lang for lang in langs if flow_langs is None or lang in flow_langs]
        for ref in refs:
            checked += 1
            for lang in wanted:
                if not catalog.has(ref.name, lang):
                    problems.append({"file": str(file), "line": ref.line, "name": ref.name, "lang": lang,
                                     "problem": f"prompt {ref.name} has no {lang} entry in {catalog.file}"})
                elif built and not catalog.path(ref.name, lang).exists():
                    problems.append({"file": str(file), "line": ref.line, "name": ref.name, "lang": lang,
                                     "problem": f"prompt {ref.name} ({lang}) is not built: run fsapp sounds build"})
    if as_json:
        click.echo(json.dumps({"files": len(files), "references": checked, "problems": problems},
                              ensure_ascii=False))
    else:
        for p in problems:
            click.echo(f"{p['file']}:{p['line']}: {p['problem']}" if p["line"] else p.get("report", p["problem"]))
        click.echo(f"{len(files)} flow file(s), {checked} prompt reference(s), {len(problems)} problem(s)",
                   err=bool(problems))
    if problems:
        ctx.exit(1)


@sounds.command(name="list")
@catalog_option
@lang_option
@click.argument("prefix", required=False, default="")
@json_option
@click.pass_context
def list_(ctx, catalog_path, langs, prefix, as_json):
    """List catalog prompts (optionally those starting with PREFIX), with text and build state."""
    catalog = _catalog(ctx, catalog_path)
    langs = _langs(catalog, langs)
    rows = []
    for name in catalog.names():
        if not name.startswith(prefix):
            continue
        for lang in langs:
            if catalog.has(name, lang) and lang in catalog.languages_of(name):
                rows.append({"name": name, "lang": lang, "text": catalog.text(name, lang),
                             "built": catalog.path(name, lang).exists(),
                             "line": catalog.prompts[name].line})
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    width = max((len(r["name"]) for r in rows), default=0)
    for r in rows:
        click.echo(f"{r['name']:<{width}}  {r['lang']:<5}  {' ' if r['built'] else '!'}  {r['text']}")
    click.echo(f"{len(rows)} prompt(s); '!' = not built", err=True)


@sounds.command(name="say")
@catalog_option
@click.option("--opt", "opts", multiple=True, metavar="KEY=VALUE",
              help="Say option, e.g. --opt currency=USD --opt yao=false.")
@click.argument("lang")
@click.argument("kind")
@click.argument("value")
@click.pass_context
def say_(ctx, catalog_path, opts, lang, kind, value):
    """Show what the say engine plays for VALUE: prompt names and the spoken text.

    Example: fsapp sounds say zh-CN money 100.05"""
    options = {}
    for item in opts:
        key, sep, raw = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--opt")
        lowered = raw.lower()
        options[key] = (True if lowered == "true" else False if lowered == "false"
                        else int(raw) if raw.isdigit() else raw)
    try:
        names = say.render(lang, kind, value, **options)
    except say.SayError as exc:
        raise click.ClickException(str(exc)) from None
    catalog = _catalog(ctx, catalog_path)
    click.echo(" ".join(names))
    click.echo(catalog.spoken(names, lang))
