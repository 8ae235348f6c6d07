"""`caredeck impact --target ID [--failure TYPE] [--format table|json]`: what if it fails.

The same answer as POST /api/v1/impact/ for provider staff (every tenant). The table
shows what each affected area means once, then one line per affected tenant, worst
first, shortened to the terminal's width; `--format json` prints everything.
"""

from __future__ import annotations

import json
import shutil
import textwrap

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from caredeck.topology.impact import impact_of

SEVERITY_LABELS = {
    "data_lost": "DATA LOST",
    "service_unavailable": "UNAVAILABLE",
    "customer": "CALLERS",
    "agent": "AGENTS",
    "operational": "OPERATIONS",
}
LIST_AT_MOST = 200  # not-affected ids shown before "and N more" (JSON lists them all)


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    if text.strip().lower() == "none":
        text = "-"
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _names(items: list[str], width: int) -> list[str]:
    shown = items[:LIST_AT_MOST]
    text = ", ".join(shown)
    if len(items) > len(shown):
        text += f", and {len(items) - len(shown)} more"
    return textwrap.wrap(text, width=width, initial_indent="  ", subsequent_indent="  ")


ELEMENT_WORDS = {"zone": "an availability zone", "region": "a region", "pop": "a PoP"}


def render_table(result: dict, width: int) -> str:
    """Three parts: what each affected area means (the matrix cells, once per failure
    type), one line per affected tenant (worst first), and who is not affected."""
    width = max(width, 80)
    summary = result["summary"]
    failures = ", ".join(f"{t['name']} ({t['id']})" for t in result["failure_types"])
    heading = [
        f"If {result['target_name']} ({result['target']}, "
        f"{ELEMENT_WORDS.get(result['element'], result['element'])}) fails: {failures}.",
        f"{summary['tenants_affected']} tenants affected, {summary['tenants_not_affected']} "
        f"not affected; with dropped calls {summary['tenants_with_dropped_calls']}, "
        f"data loss {summary['tenants_with_data_loss']}, service unavailable "
        f"{summary['tenants_with_service_unavailable']}, delays "
        f"{summary['tenants_with_delays']}.",
    ]
    lines = [wrapped for line in heading for wrapped in textwrap.wrap(line, width=width)]

    # The texts are the same for every tenant with the same failure type: show them once.
    cells: dict[str, dict[str, dict]] = {}
    for tenant in result["tenants"]:
        seen = cells.setdefault(tenant["failure"], {})
        for area in tenant["areas"]:
            seen.setdefault(area["area"], area)
    area_w, severity_w = 16, 11
    # Indent, then five columns with two spaces between them.
    text_w = max((width - 2 - area_w - severity_w - 4 * 2) // 3, 12)
    order = {label: n for n, label in enumerate(SEVERITY_LABELS)}
    for failure, areas in cells.items():
        lines += [
            "",
            f"What it means ({failure}):",
            "  " + "  ".join([
                "AREA".ljust(area_w), "SEVERITY".ljust(severity_w), "CALLERS".ljust(text_w),
                "AGENTS".ljust(text_w), "OPERATIONS",
            ]),
        ]
        for area in sorted(areas.values(), key=lambda a: order.get(a["severity"], 99)):
            lines.append(
                "  " + "  ".join([
                    _cut(area["area"], area_w).ljust(area_w),
                    SEVERITY_LABELS.get(area["severity"], "-").ljust(severity_w),
                    _cut(area["customer"], text_w).ljust(text_w),
                    _cut(area["agent"], text_w).ljust(text_w),
                    _cut(area["operational"], text_w),
                ]).rstrip()
            )

    if result["tenants"]:
        name_w, failure_w = 34, 24
        areas_w = max(width - 2 - name_w - failure_w - severity_w - 3 * 2, 10)
        lines += [
            "",
            "Affected tenants, worst first:",
            "  " + "  ".join([
                "TENANT".ljust(name_w), "FAILURE".ljust(failure_w),
                "WORST".ljust(severity_w), "AREAS (worst first)",
            ]),
        ]
        for tenant in result["tenants"]:
            lines.append(
                "  " + "  ".join([
                    _cut(f"{tenant['name']} ({tenant['organization']})", name_w).ljust(name_w),
                    _cut(tenant["failure"], failure_w).ljust(failure_w),
                    SEVERITY_LABELS.get(tenant["severity"], "-").ljust(severity_w),
                    _cut(", ".join(a["area"] for a in tenant["areas"]), areas_w),
                ])
            )
    if result["not_affected"]:
        lines += ["", f"Not affected ({len(result['not_affected'])}):"]
        lines += _names(result["not_affected"], width)
    lines += ["", "Texts are shortened to the terminal; --format json prints them in full."]
    return "\n".join(lines)


class Command(BaseCommand):
    help = "What if a zone, region or PoP fails: which tenants feel what."

    def add_arguments(self, parser):
        parser.add_argument("--target", required=True, help="zone, region or PoP id")
        parser.add_argument("--failure", help="failure type id (default: from the element)")
        parser.add_argument("--format", choices=["table", "json"], default="table")
        parser.add_argument("--width", type=int, help="table width (default: the terminal)")

    def handle(self, *args, target, failure, format, width, **options):  # noqa: A002
        try:
            result = impact_of(target=target, failure=failure)
        except ValidationError as exc:
            raise CommandError(
                " ".join(m for messages in exc.message_dict.values() for m in messages)
            ) from exc
        if format == "json":
            self.stdout.write(json.dumps(result, indent=2, ensure_ascii=False))
            return
        width = width or shutil.get_terminal_size(fallback=(120, 24)).columns
        self.stdout.write(render_table(result, width))
