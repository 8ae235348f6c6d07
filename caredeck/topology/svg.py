"""The topology map as server-rendered SVG: geographies as panels, each with its PoPs on
the left, its regions (with their availability zones) on the right, and a line from each
PoP to each region it serves.

Built from `selectors.platform_layout()` by the map, the "what if" and the deployment
pages. The marks say what to highlight: the failed element, the regions where affected
tenants run, the tenant's own deployment. Nothing relies on colour alone: every mark also
changes the outline pattern and adds a text label, and the page shows a table of the
same data beside the map.

Two layouts of the same map are drawn, a wide one and a one-column one for phones; the
stylesheet shows one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from caredeck.topology.selectors import GeographyView, PopView, RegionView


@dataclass
class MapMarks:
    """What to highlight on the map (everything optional)."""

    failed: str = ""  # id of the failed zone, region or PoP
    failed_label: str = "FAILED"
    # region id -> number of affected tenants running primarily there
    affected_regions: dict[str, int] = field(default_factory=dict)
    # PoP id -> number of affected tenants reaching it
    affected_pops: dict[str, int] = field(default_factory=dict)
    # element id -> a label for the viewer's own deployment ("Your primary region")
    own: dict[str, str] = field(default_factory=dict)
    # Show how many tenants run in each region (provider staff only).
    show_counts: bool = True
    # URL each element links to, with "{id}" for its id ("?target={id}"); "" for none.
    link: str = ""


@dataclass(frozen=True)
class Layout:
    width: int
    columns: int
    margin: int = 8
    gap: int = 14
    pad: int = 12
    header: int = 30
    pop_width: int = 118
    link_gap: int = 40
    pop_height: int = 46
    region_head: int = 22
    chip_height: int = 20
    region_foot: int = 20
    region_gap: int = 10
    chip_gap: int = 5
    min_chip: int = 52


WIDE = Layout(width=1180, columns=3)
NARROW = Layout(width=360, columns=1, pop_width=104, link_gap=28, min_chip=46)

FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'


def _t(value) -> str:
    return str(escape(str(value)))


def _short_zone(zone_name: str, region_name: str) -> str:
    """"US East A" in region "US East" -> "Zone A"."""
    rest = zone_name.removeprefix(region_name).strip(" -")
    return f"Zone {rest}" if rest and rest != zone_name else zone_name


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


class _Drawing:
    def __init__(self, layout: Layout, marks: MapMarks, id_prefix: str):
        self.lay = layout
        self.m = marks
        self.id = id_prefix
        self.parts: list[str] = []

    # --- pieces ---------------------------------------------------------------------

    def _open_link(self, element_id: str, label: str) -> None:
        if self.m.link:
            href = self.m.link.replace("{id}", element_id)
            self.parts.append(f'<a href="{_t(href)}" aria-label="{_t(label)}">')
        else:
            self.parts.append("<g>")

    def _close_link(self) -> None:
        self.parts.append("</a>" if self.m.link else "</g>")

    def _state(self, element_id: str, affected: int) -> str:
        if element_id == self.m.failed:
            return "failed"
        if affected:
            return "affected"
        if element_id in self.m.own:
            return "own"
        return "normal"

    def _status_text(self, element_id: str, affected: int, tenants: int,
                     short: bool = False) -> tuple[str, str]:
        """(text, css class) of the line under an element's name."""
        if element_id == self.m.failed:
            if affected and not short:
                return f"✕ {self.m.failed_label} · {affected} affected", "t-failed"
            return f"✕ {self.m.failed_label}", "t-failed"
        if affected:
            if short:
                return f"▲ {affected} affected", "t-affected"
            return f"▲ {_plural(affected, 'tenant')} affected", "t-affected"
        if element_id in self.m.own:
            return f"● {self.m.own[element_id]}", "t-own"
        if self.m.show_counts:
            return _plural(tenants, "tenant"), "t-muted"
        return "", "t-muted"

    def region(self, region: RegionView, x: int, y: int, width: int) -> int:
        lay = self.lay
        per_row = self._zones_per_row(region, width)
        height = self._region_height(region, width)
        affected = self.m.affected_regions.get(region.slug, 0)
        state = self._state(region.slug, affected)
        status, status_class = self._status_text(region.slug, affected, region.tenants)
        tip = [f"Region {region.name} ({region.slug})"]
        if region.zones:
            tip.append("zones " + ", ".join(name for _, name in region.zones))
        if self.m.show_counts:
            tip.append(f"{_plural(region.tenants, 'tenant')} run primarily here")
        if affected:
            tip.append(f"{_plural(affected, 'affected tenant')} run primarily here")
        if region.slug == self.m.failed:
            tip.append("failed")
        self._open_link(region.slug, f"What if region {region.name} fails")
        self.parts.append(f"<title>{_t('; '.join(tip))}</title>")
        self.parts.append(
            f'<rect class="region s-{state}" x="{x}" y="{y}" width="{width}" '
            f'height="{height}" rx="6"/>'
        )
        self.parts.append(
            f'<text class="name" x="{x + 8}" y="{y + 16}">{_t(region.name)}</text>'
        )
        self._close_link()
        chip_width = (width - 16 - (per_row - 1) * lay.chip_gap) // per_row
        for index, (slug, name) in enumerate(region.zones):
            row, col = divmod(index, per_row)
            cx = x + 8 + col * (chip_width + lay.chip_gap)
            cy = y + lay.region_head + row * (lay.chip_height + 4)
            zone_state = "failed" if slug == self.m.failed else "normal"
            label = _short_zone(name, region.name)
            if slug == self.m.failed:
                label = f"✕ {label}"
            self._open_link(slug, f"What if zone {name} fails")
            self.parts.append(f"<title>{_t(f'Availability zone {name} ({slug})')}"
                              f"{' — failed' if slug == self.m.failed else ''}</title>")
            self.parts.append(
                f'<rect class="zone s-{zone_state}" x="{cx}" y="{cy}" width="{chip_width}" '
                f'height="{lay.chip_height}" rx="3"/>'
            )
            self.parts.append(
                f'<text class="zone-label" x="{cx + chip_width / 2:.0f}" y="{cy + 14}" '
                f'text-anchor="middle">{_t(label)}</text>'
            )
            self._close_link()
        if status:
            self.parts.append(
                f'<text class="status {status_class}" x="{x + 8}" '
                f'y="{y + height - 9}">{_t(status)}</text>'
            )
        return height

    def pop(self, pop: PopView, x: int, y: int) -> None:
        lay = self.lay
        affected = self.m.affected_pops.get(pop.slug, 0)
        state = self._state(pop.slug, affected)
        status, status_class = self._status_text(pop.slug, affected, pop.tenants, short=True)
        tip = [f"PoP {pop.name} ({pop.slug})",
               "serves " + (", ".join(pop.region_names) or "no region")]
        if self.m.show_counts:
            tip.append(f"{_plural(pop.tenants, 'tenant')} reach it")
        if pop.slug == self.m.failed:
            tip.append("failed")
        self._open_link(pop.slug, f"What if PoP {pop.name} fails")
        self.parts.append(f"<title>{_t('; '.join(tip))}</title>")
        self.parts.append(
            f'<rect class="pop s-{state}" x="{x}" y="{y}" width="{lay.pop_width}" '
            f'height="{lay.pop_height}" rx="{lay.pop_height // 2}"/>'
        )
        self.parts.append(
            f'<text class="name" x="{x + lay.pop_width / 2:.0f}" y="{y + 18}" '
            f'text-anchor="middle">{_t(pop.name)}</text>'
        )
        self.parts.append(
            f'<text class="status {status_class}" x="{x + lay.pop_width / 2:.0f}" '
            f'y="{y + 34}" text-anchor="middle">{_t(status or "PoP")}</text>'
        )
        self._close_link()

    # --- a geography ----------------------------------------------------------------

    def panel_height(self, geography: GeographyView, width: int) -> int:
        lay = self.lay
        region_width = width - 2 * lay.pad - lay.pop_width - lay.link_gap
        regions = sum(self._region_height(r, region_width) + lay.region_gap
                      for r in geography.regions) - (lay.region_gap if geography.regions else 0)
        pops = len(geography.pops) * (lay.pop_height + lay.region_gap) - (
            lay.region_gap if geography.pops else 0)
        return lay.header + max(regions, pops, 30) + lay.pad

    def _zones_per_row(self, region: RegionView, width: int) -> int:
        lay = self.lay
        fits = (width - 16 + lay.chip_gap) // (lay.min_chip + lay.chip_gap)
        return max(1, min(len(region.zones) or 1, fits))

    def _region_height(self, region: RegionView, width: int) -> int:
        lay = self.lay
        rows = -(-len(region.zones) // self._zones_per_row(region, width))
        return lay.region_head + rows * (lay.chip_height + 4) + lay.region_foot + 6

    def geography(self, geography: GeographyView, x: int, y: int, width: int,
                  height: int) -> None:
        lay = self.lay
        self.parts.append(f'<g class="geography"><title>{_t(f"Geography {geography.name}")}'
                          f"</title>")
        self.parts.append(
            f'<rect class="geo" x="{x}" y="{y}" width="{width}" height="{height}" rx="8"/>'
        )
        self.parts.append(
            f'<text class="geo-name" x="{x + lay.pad}" y="{y + 20}">{_t(geography.name)}</text>'
        )
        self.parts.append("</g>")
        region_x = x + lay.pad + lay.pop_width + lay.link_gap
        region_width = width - 2 * lay.pad - lay.pop_width - lay.link_gap
        top = y + lay.header
        anchors: dict[str, tuple[int, int]] = {}
        region_parts_start = len(self.parts)
        cursor = top
        for region in geography.regions:
            h = self.region(region, region_x, cursor, region_width)
            anchors[region.slug] = (region_x, cursor + h // 2)
            cursor += h + lay.region_gap
        region_parts = self.parts[region_parts_start:]
        del self.parts[region_parts_start:]
        # Spread the PoPs over the height the regions take (at least their own height),
        # so the lines fan out and no two PoPs overlap.
        pops_height = len(geography.pops) * (lay.pop_height + lay.region_gap) - lay.region_gap
        content = max(cursor - lay.region_gap - top, pops_height, 30)
        count = len(geography.pops)
        pop_positions = []
        for index, pop in enumerate(geography.pops):
            if count == 1:
                py = top + (content - lay.pop_height) // 2
            else:
                py = top + index * (content - lay.pop_height) // (count - 1)
            pop_positions.append((pop, py))
        # Lines first, so the boxes sit on top of them.
        for pop, py in pop_positions:
            start_x, start_y = x + lay.pad + lay.pop_width, py + lay.pop_height // 2
            for region_slug in pop.regions:
                if region_slug not in anchors:
                    continue  # a region of another geography: the table lists the link
                end_x, end_y = anchors[region_slug]
                mid = (start_x + end_x) / 2
                down = pop.slug == self.m.failed or region_slug == self.m.failed
                self.parts.append(
                    f'<path class="link{" link-down" if down else ""}" '
                    f'd="M{start_x},{start_y} C{mid:.0f},{start_y} {mid:.0f},{end_y} '
                    f'{end_x},{end_y}"/>'
                )
        for pop, py in pop_positions:
            self.pop(pop, x + lay.pad, py)
        self.parts.extend(region_parts)


def topology_svg(
    geographies: list[GeographyView],
    *,
    marks: MapMarks | None = None,
    layout: Layout = WIDE,
    id_prefix: str = "map",
    title: str = "Topology map",
    description: str = "",
) -> SafeString:
    """The map as one <svg> element, ready to put in a page."""
    marks = marks or MapMarks()
    lay = layout
    drawing = _Drawing(lay, marks, id_prefix)
    columns = max(1, min(lay.columns, len(geographies) or 1))
    panel_width = (lay.width - 2 * lay.margin - (columns - 1) * lay.gap) // columns
    y = lay.margin
    for start in range(0, len(geographies), columns):
        row = geographies[start:start + columns]
        height = max(drawing.panel_height(g, panel_width) for g in row)
        for index, geography in enumerate(row):
            x = lay.margin + index * (panel_width + lay.gap)
            drawing.geography(geography, x, y, panel_width, height)
        y += height + lay.gap
    total_height = max(y - lay.gap + lay.margin, 60)
    if not geographies:
        drawing.parts.append(
            f'<text class="t-muted" x="{lay.width / 2:.0f}" y="34" text-anchor="middle">'
            "No geography yet</text>"
        )
    description = description or _describe(geographies)
    head = (
        f'<svg class="topology-map" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {lay.width} {total_height}" width="{lay.width}" height="{total_height}" '
        f'role="group" aria-labelledby="{id_prefix}-title {id_prefix}-desc" {FONT}>'
        f'<title id="{id_prefix}-title">{_t(title)}</title>'
        f'<desc id="{id_prefix}-desc">{_t(description)}</desc>'
    )
    return mark_safe(head + "".join(drawing.parts) + "</svg>")  # noqa: S308 - escaped above


def _describe(geographies: list[GeographyView]) -> str:
    regions = sum(len(g.regions) for g in geographies)
    zones = sum(len(r.zones) for g in geographies for r in g.regions)
    pops = sum(len(g.pops) for g in geographies)
    return (
        f"{_plural(len(geographies), 'geography', 'geographies')}, "
        f"{_plural(regions, 'region')} with {_plural(zones, 'availability zone')}, and "
        f"{_plural(pops, 'transit PoP')} linked to the regions they serve. "
        "The table after the map lists the same data."
    )


def topology_svgs(geographies: list[GeographyView], **kwargs) -> dict[str, SafeString]:
    """The wide and the phone layout of the same map (the stylesheet shows one)."""
    prefix = kwargs.pop("id_prefix", "map")
    return {
        "wide": topology_svg(geographies, layout=WIDE, id_prefix=f"{prefix}-wide", **kwargs),
        "narrow": topology_svg(
            geographies, layout=NARROW, id_prefix=f"{prefix}-narrow", **kwargs
        ),
    }
