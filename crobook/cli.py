"""Command line: `crobook validate`, `build`, `run`, `preview`, `params`, `ledger` and `diff`.

Problems are printed one per line, never as a traceback."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from crobook.errors import BuildError, DataError, ParamsError

UNTOUCHED = {
    "build": "; nothing was published and the site is as it was",
    "run": "; no kernel was started",
    "preview": "; the preview shows the last good state",
}


def _stop(signum, frame):
    raise KeyboardInterrupt  # SIGTERM stops a build the way Ctrl-C does


def validate_data(data_dir: Path | None, params_file: Path | None):
    """The same checks as the start of a build: the parameters, then the data against their as-of date."""
    from crobook.params import DEFAULT_PARAMS, chapters, load_inputs

    return load_inputs(data_dir, Path(params_file or DEFAULT_PARAMS), chapters())[1]


def params_table() -> str:
    """Every parameter as a Markdown table: where it is set in the parameters file, type, default, meaning."""
    import json

    from crobook.build import chapters
    from crobook.params import listing

    lines = ["| set under | name | type | default | meaning |", "|---|---|---|---|---|"]
    for row in listing(chapters()):
        default = json.dumps(row["default"]).replace("|", "\\|")
        lines.append(f"| `{row['where']}` | `{row['name']}` | {row['type']} | `{default}` | {row['meaning']} |")
    return "\n".join(lines)


README = Path(__file__).resolve().parent.parent / "README.md"
MARKERS = ("<!-- ledger: start (crobook ledger --readme) -->", "<!-- ledger: end -->")


def ledger_table(data_dir: Path | None, params_file: Path | None, write_readme: bool) -> str:
    from crobook.claims import assess, markdown_summary

    table = markdown_summary(assess(validate_data(data_dir, params_file)))
    if write_readme:
        text = README.read_text(encoding="utf-8")
        start, end = text.index(MARKERS[0]) + len(MARKERS[0]), text.index(MARKERS[1])
        README.write_text(text[:start] + "\n" + table + "\n" + text[end:], encoding="utf-8")
    return table


def diff_editions(old: str, new: str, site_dir: Path | None) -> str:
    from crobook.build import DEFAULT_SITE
    from crobook.diff import compare, read_manifest, report

    site_dir = Path(site_dir or DEFAULT_SITE)
    dirs = [site_dir / name for name in (old, new)]
    for name, folder in zip((old, new), dirs, strict=True):
        if not (folder / "manifest.json").is_file():
            raise BuildError(f'no edition "{name}" in {site_dir} (expected {folder / "manifest.json"})')
    before, after = read_manifest(dirs[0]), read_manifest(dirs[1])
    return report(compare(before, after), before["edition"], after["edition"])  # "latest" by its name


def found_site(args) -> Path:
    return Path(args.site or Path(__file__).resolve().parent.parent / "_build" / "site").resolve()


def up_to_date_edition(args) -> str | None:
    """The published edition these very inputs gave, found without reading the data (see crobook.quick); the
    site is repaired first, as every build does."""
    from crobook import quick, site

    root = Path(__file__).resolve().parent.parent
    site_dir = found_site(args)
    data_dir = Path(args.data or root / "data").resolve()
    params_file = Path(args.params or root / "params" / "default.yaml").resolve()
    found = quick.up_to_date(data_dir, params_file, site_dir, args.edition)
    if not found:
        return None
    with site.site_lock(site_dir):
        site.repair(site_dir)
    return found if (site_dir / found / "manifest.json").is_file() else None


def failure(command: str, message: str, untouched: str) -> None:
    """One line when the cause fits on one; a tool's own lines (Sphinx, TeX) follow a first line otherwise."""
    if "\n" in message:
        print(f"{command} failed: {message}", file=sys.stderr)
        print(f"nothing done{untouched}.", file=sys.stderr)
    else:
        print(f"{command} failed: {message}{untouched}.", file=sys.stderr)


def report(command: str, err: DataError | ParamsError | BuildError | OSError) -> None:
    """A failure as the reader sees it: every problem on its own line, or the step that failed, then what was
    left as it was."""
    untouched = UNTOUCHED.get(command, "")
    if isinstance(err, DataError | ParamsError):
        for problem in err.problems:
            print(problem, file=sys.stderr)
        print(f"{len(err.problems)} problem(s) found{untouched}.", file=sys.stderr)
    elif isinstance(err, BuildError):
        failure(command, str(err), untouched if err.site_untouched else "")
    else:  # a folder that cannot be written, a full disk: say which and what to do
        from crobook.site import describe

        failure(command, describe(err), untouched)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crobook", description="Build and check the Biotech–CRO Evidence Book.")
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check a data folder")
    validate.add_argument("--data", type=Path, default=None, help="data folder (default: data/)")
    validate.add_argument(
        "--params", type=Path, default=None, help="parameters file, for its as-of date (default: params/default.yaml)"
    )
    build = commands.add_parser("build", help="validate, run every chapter, build the website and the PDF")
    build.add_argument("--data", type=Path, default=None, help="data folder (default: data/)")
    build.add_argument("--params", type=Path, default=None, help="parameters file (default: params/default.yaml)")
    build.add_argument("--site", type=Path, default=None, help="site folder (default: _build/site/)")
    build.add_argument(
        "--edition",
        default=None,
        help="edition name (default: <version>-<as-of date>-<fingerprint of data and parameters>)",
    )
    build.add_argument("--force", action="store_true", help="re-run every chapter and rebuild even if up to date")
    build.add_argument(
        "--replace",
        action="store_true",
        help="replace a published edition of this name built from other inputs (the old one stays in the index)",
    )
    build.add_argument(
        "--variant", action="store_true", help="an edition beside the main line: it does not become latest"
    )
    build.add_argument("--latest", action="store_true", help="with --variant: make it latest all the same")
    run = commands.add_parser(
        "run",
        help="execute one chapter with parameters, as papermill does, into a folder outside the repository",
        description="Execute one chapter. NAME is one of the chapter's parameters (crobook params), as_of, or "
        "book.NAME; VALUE is read as YAML (2035, 4.5, null, [a, b]). Checked before any kernel starts.",
    )
    run.add_argument("chapter", help="chapter name, e.g. cro-market (chapters/<name>.md)")
    run.add_argument(
        "-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"), help="set a parameter"
    )
    run.add_argument("--data", type=Path, default=None, help="data folder (default: data/)")
    run.add_argument(
        "--params", type=Path, default=None, help="parameters file under -p (default: params/default.yaml)"
    )
    run.add_argument(
        "--out", type=Path, default=None, help="folder for the notebook and views (default: a new temporary one)"
    )
    preview = commands.add_parser(
        "preview", help="serve the website with live reload while you edit data, parameters or chapters (no PDF)"
    )
    preview.add_argument("--data", type=Path, default=None, help="data folder (default: data/)")
    preview.add_argument("--params", type=Path, default=None, help="parameters file (default: params/default.yaml)")
    preview.add_argument("--port", type=int, default=8000, help="port on localhost (default: 8000; 0 picks a free one)")
    preview.add_argument("--dir", type=Path, default=None, help="folder of the draft (default: _build/preview/)")
    preview.add_argument(
        "--sync", action="store_true", help="only bring the draft up to date (the server runs this on each change)"
    )
    ledger = commands.add_parser("ledger", help="print the claims ledger as a Markdown table")
    ledger.add_argument("--data", type=Path, default=None, help="data folder (default: data/)")
    ledger.add_argument(
        "--params", type=Path, default=None, help="parameters file, e.g. for book.top_n (default: params/default.yaml)"
    )
    ledger.add_argument("--readme", action="store_true", help="write the table into README.md between its markers")
    commands.add_parser("params", help="list every parameter: the book's and each chapter's")
    diff = commands.add_parser("diff", help="what changed between two editions of a site")
    diff.add_argument("old", help="the earlier edition")
    diff.add_argument("new", help="the later edition")
    diff.add_argument("--site", type=Path, default=None, help="site folder (default: _build/site/)")
    args = parser.parse_args(argv)

    try:
        if args.command == "validate":
            evidence = validate_data(args.data, args.params)
            print(
                f"{evidence.data_dir}: valid ({len(evidence.sources)} sources, {len(evidence.series)} series, "
                f"{len(evidence.observations)} observations)"
            )
        elif args.command == "run":
            from crobook.build import DEFAULT_PARAMS
            from crobook.run import run as run_chapter

            run_chapter(args.chapter, args.parameter, args.data, Path(args.params or DEFAULT_PARAMS), args.out)
        elif args.command == "preview":
            from crobook.build import DEFAULT_PARAMS
            from crobook.preview import PREVIEW_DIR, serve, sync

            params_file, folder = Path(args.params or DEFAULT_PARAMS).resolve(), Path(args.dir or PREVIEW_DIR).resolve()
            if args.sync:
                sync(args.data, params_file, folder)
            else:
                return serve(args.data, params_file, args.port, folder)
        elif args.command == "params":
            print(params_table())
        elif args.command == "ledger":
            print(ledger_table(args.data, args.params, args.readme))
        elif args.command == "diff":
            print(diff_editions(args.old, args.new, args.site))
        elif not (args.force or args.replace) and (found := up_to_date_edition(args)):
            print(f"edition {found} is up to date in {found_site(args)}; nothing to do (use --force to rebuild it)")
        else:
            from crobook.heap import collect_less
            from crobook.kernel import start_pool

            collect_less()  # here and in the workers forked next
            # The chapters' kernels start first: importing the build (pandas, pandera, papermill) takes 0.5 s.
            pool = start_pool()
            from crobook.build import build as build_book

            # Called in-process (tests, notebooks), main() must hand SIGTERM back as it found it.
            previous = signal.signal(signal.SIGTERM, _stop)
            try:
                build_book(
                    args.data,
                    args.params,
                    args.site,
                    args.edition,
                    args.force,
                    replace=args.replace,
                    variant=args.variant,
                    latest=True if args.latest else None,
                    pool=pool,
                )
            finally:
                signal.signal(signal.SIGTERM, previous)
    except (DataError, ParamsError, BuildError, OSError) as err:
        report(args.command, err)
        return 1
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print(f"interrupted{UNTOUCHED.get(args.command, '')}.", file=sys.stderr, flush=True)
        sys.stdout.flush()
        # The build has stopped its workers and tools; leave without waiting on the pool's threads at exit.
        os._exit(130)
    return 0


def run() -> None:
    """The `crobook` command: main(), then out at once. Python's own ending (freeing every object the build made,
    module by module) took 0.3 s after a build; everything is written and closed by then."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
