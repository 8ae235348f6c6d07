"""The server-rendered topology map: accessible, escaped, laid out without overlaps, and
marking what the page asks for in words as well as colours."""

from __future__ import annotations

import re

from caredeck.topology.selectors import GeographyView, PopView, RegionView, platform_layout
from caredeck.topology.svg import NARROW, WIDE, MapMarks, topology_svg, topology_svgs


def _geography(regions: int = 1, pops: int = 2) -> GeographyView:
    return GeographyView(
        "geo", "Geo",
        regions=[
            RegionView(f"r{n}", f"Region {n}", [(f"r{n}-a", f"Region {n} A")], [], tenants=n)
            for n in range(regions)
        ],
        pops=[PopView(f"p{n}", f"PoP {n}", [f"r{m}" for m in range(regions)])
              for n in range(pops)],
    )


def _boxes(svg: str, css: str) -> list[tuple[int, int, int, int]]:
    return [
        tuple(int(v) for v in found)
        for found in re.findall(
            rf'<rect class="{css}[^"]*" x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)"', svg
        )
    ]


def test_the_map_has_a_title_and_a_description_for_screen_readers(db):
    svg = topology_svg(platform_layout(), title="Where we run", id_prefix="m")
    assert 'aria-labelledby="m-title m-desc"' in svg
    assert '<title id="m-title">Where we run</title>' in svg
    assert "10 regions with 30 availability zones" in svg


def test_every_element_has_a_text_label_and_a_tooltip(db):
    svg = topology_svg(platform_layout())
    assert ">US East</text>" in svg and ">Zone A</text>" in svg and ">Ashburn</text>" in svg
    assert "<title>Region US East (us-east); zones US East A, US East B, US East C" in svg


def test_names_are_escaped():
    geography = _geography()
    geography.regions[0].name = '<script>alert("x")</script>'
    svg = topology_svg([geography])
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_pops_never_overlap_even_beside_a_single_region():
    for layout in (WIDE, NARROW):
        svg = topology_svg([_geography(regions=1, pops=3)], layout=layout)
        pops = sorted(_boxes(svg, "pop"), key=lambda b: b[1])
        assert len(pops) == 3
        for upper, lower in zip(pops, pops[1:], strict=False):
            assert upper[1] + upper[3] <= lower[1], (layout, pops)


def test_regions_fit_inside_their_geography():
    svg = topology_svg([_geography(regions=4, pops=2)])
    (geo,) = _boxes(svg, "geo")
    for x, y, width, height in _boxes(svg, "region"):
        assert geo[0] <= x and x + width <= geo[0] + geo[2]
        assert geo[1] <= y and y + height <= geo[1] + geo[3]


def test_marks_say_in_words_what_failed_and_who_is_affected():
    marks = MapMarks(failed="r0", affected_regions={"r1": 3}, own={"p0": "Your PoP"},
                     link="/topology/impact/?target={id}")
    svg = topology_svg([_geography(regions=2)], marks=marks)
    assert 'class="region s-failed"' in svg and "✕ FAILED" in svg
    assert 'class="region s-affected"' in svg and "▲ 3 tenants affected" in svg
    assert 'class="pop s-own"' in svg and "● Your PoP" in svg
    assert 'class="link link-down"' in svg  # the lines to the failed region
    assert '<a href="/topology/impact/?target=r1" aria-label="What if region Region 1 fails">' \
        in svg


def test_tenant_counts_are_shown_only_when_asked():
    assert "1 tenant<" in topology_svg([_geography(regions=2)])
    assert "tenant<" not in topology_svg([_geography(regions=2)],
                                         marks=MapMarks(show_counts=False))


def test_the_two_layouts_have_their_own_ids():
    maps = topology_svgs([_geography()], id_prefix="x")
    assert 'id="x-wide-title"' in maps["wide"] and 'id="x-narrow-title"' in maps["narrow"]


def test_an_empty_platform_still_draws_something():
    assert "No geography yet" in topology_svg([])
