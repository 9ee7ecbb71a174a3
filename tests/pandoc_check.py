"""The Quarto page sources as Quarto reads them, without Quarto: pandoc from pypandoc-binary.

Quarto is pandoc plus Lua filters and cannot be installed from the package registries, so the
tests read every generated ``.qmd`` with a real pandoc 3.x into its JSON AST (front matter →
metadata, fenced divs → ``Div``, ```` ```{=html} ```` → ``RawBlock``) and check that.

:func:`write_fake_quarto` puts a stand-in ``quarto`` on PATH for the command wiring: it logs its
arguments and renders ``quarto render DIR`` (whole project, output dir cleaned first) or
``quarto render FILE`` (one page) with ``pandoc -s`` and a template that stands in for Quarto's
page frame (head with the site CSS and the page's ``include-in-header``, the navbar from
``_quarto.yml``, ``body-classes``, ``include-after-body``), so the stand-in site can be opened
in Chromium.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

# Pandoc's markdown with the extensions Quarto's pages rely on (all on by default in pandoc;
# named so that a change of pandoc defaults cannot silently change what is tested).
QUARTO_MARKDOWN = (
    "markdown+yaml_metadata_block+fenced_divs+raw_attribute+bracketed_spans+native_divs+raw_html"
)


@cache
def pandoc() -> str:
    """Path of the pandoc binary shipped by pypandoc-binary."""
    import pypandoc

    return pypandoc.get_pandoc_path()


def read_ast(path: Path) -> dict[str, Any]:
    """The pandoc JSON AST of one page source, read as Quarto reads it."""
    proc = subprocess.run(
        [pandoc(), "-f", QUARTO_MARKDOWN, "-t", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout)


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every AST element (a dict with ``t``) under ``node``, depth first."""
    if isinstance(node, dict):
        if "t" in node:
            yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def stringify(node: Any) -> str:
    """The plain text of metadata or inlines (raw HTML left out)."""
    out = []
    for el in walk(node):
        if el["t"] in {"Str", "MetaString"}:
            out.append(el["c"])
        elif el["t"] in {"Space", "SoftBreak", "LineBreak"}:
            out.append(" ")
    return "".join(out)


def meta_value(ast: dict[str, Any], key: str) -> Any:
    return ast["meta"].get(key)


def raw_html(node: Any) -> list[str]:
    """The raw HTML pieces (blocks and inlines) under ``node``."""
    return [
        el["c"][1]
        for el in walk(node)
        if el["t"] in {"RawBlock", "RawInline"} and el["c"][0] == "html"
    ]


def text_outside_raw(blocks: list[Any]) -> str:
    """Everything pandoc read as text, i.e. not inside a raw HTML block."""
    return stringify([b for b in blocks if b.get("t") != "RawBlock"])


class Urls(HTMLParser):
    """``(tag, attribute, value)`` of every href/src in an HTML fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.h1 = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h1":
            self.h1 += 1
        for name, value in attrs:
            if name in {"href", "src"} and value is not None:
                self.urls.append((tag, name, value))


def urls(fragments: list[str]) -> Urls:
    parser = Urls()
    for fragment in fragments:
        parser.feed(fragment)
    parser.close()
    return parser


# ---------------------------------------------------------------------------------------------
# Stand-in `quarto`


def _template(root: str, config: dict[str, Any]) -> str:
    site = config["website"]
    nav = "".join(
        f'<li class="nav-item"><a class="nav-link" href="{root}{item["href"].removesuffix(".qmd")}'
        f'.html">{html.escape(item["text"])}</a></li>'
        for item in site["navbar"]["left"]
    )
    css = config["format"]["html"]["css"]
    title = html.escape(site["title"])
    return f"""<!DOCTYPE html>
<html lang="{config.get("lang", "nb")}">
<head>
<meta charset="utf-8">
<title>$pagetitle$ – {title}</title>
<link rel="stylesheet" href="{root}{css}">
$include-in-header.text$
</head>
<body class="$body-classes$">
<header id="quarto-header"><nav class="navbar">
<a class="navbar-brand" href="{root}index.html">{title}</a>
<ul class="navbar-nav">{nav}</ul></nav></header>
<main class="content" id="quarto-document-content">
$body$
</main>
$include-after-body.text$
</body>
</html>
"""


def render_standin(src_dir: Path, rel: str, output_dir: Path) -> Path:
    """Render one page source the way the stand-in ``quarto`` does; returns the HTML path."""
    import yaml

    config = yaml.safe_load((src_dir / "_quarto.yml").read_text("utf-8"))
    root = "../" * rel.count("/")
    target = output_dir / Path(rel).with_suffix(".html")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="standin-") as tmp:
        template = Path(tmp) / "template.html"
        template.write_text(_template(root, config), "utf-8")
        _pandoc_standalone(template, src_dir / rel, target)
    return target


def _pandoc_standalone(template: Path, source: Path, target: Path) -> None:
    subprocess.run(
        [
            pandoc(),
            "-f",
            QUARTO_MARKDOWN,
            "-t",
            "html",
            "-s",
            "--template",
            str(template),
            "-o",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )


def _project_sources(src_dir: Path, output_dir: Path) -> list[str]:
    found = []
    for path in sorted(src_dir.rglob("*.qmd")):
        rel = path.relative_to(src_dir)
        if path.is_relative_to(output_dir) or any(p.startswith(("_", ".")) for p in rel.parts):
            continue
        found.append(rel.as_posix())
    return found


def fake_quarto_main(args: list[str], log: Path, fail: bool) -> int:
    """What the stand-in ``quarto`` does with ``args`` (``render DIR|FILE``)."""
    import yaml

    with log.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(args) + "\n")
    if fail:
        print("ERROR: something broke", file=sys.stderr)
        return 1
    assert args[0] == "render" and len(args) == 2, args
    target = Path(args[1])
    project = target if target.is_dir() else target.parent
    while not (project / "_quarto.yml").is_file():
        project = project.parent
    config = yaml.safe_load((project / "_quarto.yml").read_text("utf-8"))
    output_dir = project / config["project"]["output-dir"]
    if target.is_dir():
        shutil.rmtree(output_dir, ignore_errors=True)
        rendered = _project_sources(project, output_dir)
        for rel in rendered:
            render_standin(project, rel, output_dir)
        for resource in config["project"].get("resources", []):
            shutil.copytree(project / resource, output_dir / resource, dirs_exist_ok=True)
    else:
        rendered = [target.relative_to(project).as_posix()]
        render_standin(project, rendered[0], output_dir)
    _update_search_index(output_dir, rendered)
    return 0


def _update_search_index(output_dir: Path, rendered: list[str]) -> None:
    """``search.json`` as Quarto keeps it: a rendered page replaces its own entries (one for the
    page, one per section) and every other entry stays, those of deleted pages included, until
    a whole-project render starts from an empty output dir."""
    path = output_dir / "search.json"
    entries = json.loads(path.read_text("utf-8")) if path.is_file() else []
    for rel in rendered:
        href = Path(rel).with_suffix(".html").as_posix()
        entries = [e for e in entries if e["href"].partition("#")[0] != href]
        for anchor in ("", "#innhold"):
            entries.append(
                {
                    "objectID": href + anchor,
                    "href": href + anchor,
                    "title": href,
                    "section": anchor.lstrip("#"),
                    "text": "",
                    "crumbs": [],
                }
            )
    path.write_text(json.dumps(entries, indent=2), "utf-8")


def write_fake_quarto(bin_dir: Path, log: Path, fail: bool = False) -> Path:
    """A stand-in ``quarto`` executable in ``bin_dir`` (see the module docstring)."""
    script = bin_dir / "quarto"
    script.write_text(
        f"""#!{sys.executable}
import sys
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from pandoc_check import fake_quarto_main
sys.exit(fake_quarto_main(sys.argv[1:], Path({str(log)!r}), {fail!r}))
""",
        "utf-8",
    )
    script.chmod(0o755)
    return script


def log_calls(log: Path) -> list[list[str]]:
    if not log.is_file():
        return []
    return [json.loads(line) for line in log.read_text("utf-8").splitlines() if line.strip()]
