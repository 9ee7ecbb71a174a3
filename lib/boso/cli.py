"""The ``boso`` command line.

Sub-commands import their modules lazily so that ``boso --help`` and quick commands stay fast.
Every :class:`boso.errors.BosoError` becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Sequence

from boso.errors import BosoError, os_problem


def _cmd_fetch(args: argparse.Namespace) -> int:
    from boso.raw import RawStore
    from boso.sources import fetch_all

    fetch_all(
        sources=args.source or None,
        tables=args.table or None,
        store=RawStore(allow_shrink=args.force),
    )
    return 0


def _cmd_snapshot(args: argparse.Namespace) -> int:
    from boso import raw

    if args.action == "import":
        from boso.register import import_snapshot_registers

        imported = raw.import_snapshot(args.path, raw.RawStore(allow_shrink=args.force))
        synthetic = sum(f.synthetic for f in imported)
        print(
            f"importerte {len(imported)} filer til {raw.RawStore().root} "
            f"({synthetic} merket syntetiske)"
        )
        import_snapshot_registers(imported)
        return 0
    target = raw.export_snapshot(args.path)
    print(f"pakket data/raw til {target}")
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from boso.build import build

    written = build(indicators=args.indicator or None)
    for name, rows in written.items():
        print(f"{name}: {rows} rader")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from boso.processed import export_indicator

    export_indicator(
        args.indicator,
        kommunenummer=args.kommune,
        fmt=args.format,
        output=args.output,
        include_comparisons=args.sammenligning,
    )
    return 0


def _cmd_indicators(args: argparse.Namespace) -> int:
    from boso.catalog import load_catalog

    for indicator in load_catalog().values():
        synthetic = " [syntetisk]" if indicator.synthetic else ""
        print(
            f"{indicator.id:28} {indicator.kind:5} {indicator.unit:14} "
            f"{indicator.source}:{indicator.table:9} {indicator.label}{synthetic}"
        )
    return 0


def _cmd_reports(args: argparse.Namespace) -> int:
    from boso.reports import run_cli

    return run_cli(args)


def _cmd_site(args: argparse.Namespace) -> int:
    from boso.site import run_cli

    return run_cli(args)


def _cmd_chapter(args: argparse.Namespace) -> int:
    from boso.chapter import run_cli

    return run_cli(args)


def _cmd_register(args: argparse.Namespace) -> int:
    from boso.register import run_cli

    try:
        code = run_cli(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # `boso register import … | head`: the reader left after the import was written.
        # Point stdout at devnull so the interpreter's final flush does not complain either.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and documentation)."""
    parser = argparse.ArgumentParser(
        prog="boso", description="Statistikk for boligsosialt arbeid i norske kommuner."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    fetch = sub.add_parser("fetch", help="hent kildedata fra SSB, KLASS, IMDi og Geonorge")
    fetch.add_argument("--source", action="append", choices=["ssb", "klass", "imdi", "geo"])
    fetch.add_argument("--table", action="append", help="bare denne SSB-tabellen (kan gjentas)")
    fetch.add_argument(
        "--force",
        action="store_true",
        help="erstatt en SSB-tabell selv om den nye dekker færre kommuner, år eller serier",
    )
    fetch.set_defaults(func=_cmd_fetch)

    snapshot = sub.add_parser("snapshot", help="importer/eksporter et frakoblet datasett")
    snapshot.add_argument("action", choices=["import", "export"])
    snapshot.add_argument("path", help="snapshot-mappe eller .tar.gz (import), fil (export)")
    snapshot.add_argument(
        "--force",
        action="store_true",
        help="importer selv om en SSB-tabell dekker færre kommuner, år eller serier enn før",
    )
    snapshot.set_defaults(func=_cmd_snapshot)

    build = sub.add_parser("build", help="bygg data/processed fra data/raw")
    build.add_argument("--indicator", action="append", help="bare denne indikatoren (kan gjentas)")
    build.set_defaults(func=_cmd_build)

    export = sub.add_parser("export", help="skriv en harmonisert indikator som CSV/parquet")
    export.add_argument("indicator")
    export.add_argument("--kommune", help="kommunenummer (4 siffer)")
    export.add_argument("--format", choices=["csv", "parquet"], default="csv")
    export.add_argument("--output", "-o", help="fil (standard: stdout for csv)")
    export.add_argument(
        "--sammenligning",
        action="store_true",
        help="ta med fylke, KOSTRA-gruppe og landet for kommunen",
    )
    export.set_defaults(func=_cmd_export)

    indicators = sub.add_parser("indicators", help="list indikatorkatalogen")
    indicators.set_defaults(func=_cmd_indicators)

    reports = sub.add_parser("reports", help="kjør analysene for kommuner (papermill)")
    target = reports.add_mutually_exclusive_group(required=True)
    target.add_argument("--kommune", nargs="+", help="kommunenummer")
    target.add_argument("--fylke", nargs="+", help="fylkesnummer (2 siffer)")
    target.add_argument("--all", action="store_true", help="alle kommuner i dataene")
    reports.add_argument("--analysis", nargs="+", help="bare disse analysene")
    reports.add_argument("--jobs", type=int, default=None, help="parallelle prosesser")
    reports.add_argument("--force", action="store_true", help="kjør også uendrede rapporter")
    reports.set_defaults(func=_cmd_reports)

    site = sub.add_parser("site", help="bygg nettstedet fra reports/")
    site.add_argument(
        "--renderer", choices=["auto", "quarto", "nbconvert"], default="auto", help="renderer"
    )
    site.add_argument("--jobs", type=int, default=None, help="parallelle prosesser")
    site.set_defaults(func=_cmd_site)

    chapter = sub.add_parser(
        "chapter", help="lag statistikkvedlegg (PDF og Word) per kommune i nettstedet"
    )
    chapter_target = chapter.add_mutually_exclusive_group(required=True)
    chapter_target.add_argument("--kommune", nargs="+", help="kommunenummer")
    chapter_target.add_argument("--fylke", nargs="+", help="fylkesnummer (2 siffer)")
    chapter_target.add_argument("--all", action="store_true", help="alle kommuner med rapporter")
    chapter.add_argument(
        "--format", nargs="+", choices=["pdf", "docx"], help="bare disse formatene"
    )
    chapter.add_argument("--jobs", type=int, default=None, help="parallelle prosesser")
    chapter.add_argument("--force", action="store_true", help="lag også uendrede vedlegg")
    chapter.add_argument(
        "--skip-if-no-browser",
        action="store_true",
        help="uten Chromium: si fra på én linje og avslutt med status 0 (make site)",
    )
    chapter.set_defaults(func=_cmd_chapter)

    register = sub.add_parser("register", help="kommunens boligregister")
    register_sub = register.add_subparsers(dest="action", required=True)
    reg_import = register_sub.add_parser("import", help="les en eksport fra kommunens system")
    reg_import.add_argument("file")
    reg_import.add_argument("--kommune", required=True, help="kommunenummer (4 siffer)")
    reg_import.add_argument(
        "--force",
        action="store_true",
        help="erstatt registeret selv om det nye har under halvparten av boligene",
    )
    register.set_defaults(func=_cmd_register)
    return parser


def describe_os_error(exc: OSError) -> str:
    """One bokmål line for a file-system error, naming the path it concerns."""
    if exc.filename is None:  # e.g. a network error (requests' are OSErrors too)
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return os_problem(exc) if exc.errno else text
    reason = os_problem(exc)
    name = exc.filename
    if exc.filename2 is not None:
        name = f"{name} → {exc.filename2}"
    return f"{name}: {reason}"


def _silence_stdout() -> None:
    # Python flushes stdout once more at exit; point it at /dev/null so that flush cannot
    # print "Exception ignored … BrokenPipeError" after we chose to stop quietly.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, not at interpreter exit
        return status
    except BrokenPipeError:
        # The reader went away (`boso export … | head`): that is not an error of ours.
        _silence_stdout()
        return 0
    except BosoError as exc:
        print(f"boso: feil: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"boso: feil: {describe_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("boso: avbrutt", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
