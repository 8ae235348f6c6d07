"""`caredeck manage catalog export|import`: the whole topology catalog as a file.

    caredeck manage catalog export [--format yaml|json] [--output FILE]
    caredeck manage catalog import FILE [--format yaml|json] [--dry-run]

An import validates the whole file first and prints every error with its line; with any
error it changes nothing and exits with status 1. It acts as the system (the operator of
the server), like the reference load after migrate.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from caredeck.topology.catalog import (
    FORMATS,
    KINDS,
    CatalogError,
    catalog_dump_json,
    catalog_dump_yaml,
    catalog_import,
)


class Command(BaseCommand):
    help = "Export or import the whole topology catalog (topology and failure matrix)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="print the catalog (or write it to a file)")
        export.add_argument("--format", choices=FORMATS, default="yaml")
        export.add_argument("--output", "-o", help="write to this file instead of stdout")
        load = sub.add_parser("import", help="validate a catalog file and replace the catalog")
        load.add_argument("file", help="the catalog file, or - for standard input")
        load.add_argument(
            "--format", choices=FORMATS, help="yaml or json (default: by the file's extension)"
        )
        load.add_argument(
            "--dry-run", action="store_true", help="validate and count, change nothing"
        )

    def handle(self, *args, action, **options):
        if action == "export":
            return self.export(options["format"], options.get("output"))
        return self.load(options["file"], options.get("format"), options["dry_run"])

    def export(self, fmt: str, output: str | None) -> None:
        text = catalog_dump_yaml() if fmt == "yaml" else catalog_dump_json() + "\n"
        if output:
            Path(output).write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote the catalog to {output}.")
        else:
            self.stdout.write(text, ending="")

    def load(self, file: str, fmt: str | None, dry_run: bool) -> None:
        if fmt is None:
            fmt = "json" if file.lower().endswith(".json") else "yaml"
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from None
        try:
            summary = catalog_import(actor=None, text=text, fmt=fmt, dry_run=dry_run)
        except CatalogError as exc:
            name = "<stdin>" if file == "-" else file
            for error in exc.errors:
                where = f"{name}:{error['line']}:" if error["line"] is not None else f"{name}:"
                path = f" {error['path']}:" if error["path"] else ""
                self.stderr.write(f"{where}{path} {error['message']}")
            raise CommandError(
                f"{len(exc.errors)} error(s) in {name}; the catalog was not changed."
            ) from None
        verbs = ("created", "updated", "deleted")
        lines = []
        for kind in KINDS:
            done = ", ".join(f"{summary[v][kind]} {v}" for v in verbs if summary[v][kind])
            lines.append(f"  {kind}: {summary['totals'][kind]}" + (f" ({done})" if done else ""))
        head = "Dry run, nothing changed; the import would give:" if dry_run else "Imported:"
        self.stdout.write("\n".join([head, *lines]))
