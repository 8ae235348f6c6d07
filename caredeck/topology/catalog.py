"""The whole catalog (topology and failure matrix) as one document: export, parse, import.

Used by the catalog pages, `GET|PUT /api/v1/topology/catalog/` and `caredeck manage
catalog`, and after `migrate` (a post_migrate handler connected in apps.py) to load the
reference catalog (reference/catalog.yaml) into an empty database.

An import validates the whole document first and reports every error with the line of
the file it is on; only a valid document is written, in one transaction that replaces the
catalog: elements are matched by their id (slug), updated or created, and those absent
from the document are deleted, unless a tenant's deployment still uses them.

The document is a mapping of sections, each a mapping keyed by the element's id:

    version: 1
    geographies:      {<id>: {name}}
    regions:          {<id>: {name, geography, zones: {<id>: {name}}}}
    pops:             {<id>: {name, geography, regions: [<region id>, ...]}}
    functional_areas: {<id>: {name, services, scope, home_region, standby_region, note,
                              components: [{name, availability}]}}
    failure_types:    {<id>: {name, element, connectivity}}
    impact:           {<failure type id>: {<area id>: {operational, agent, customer,
                              data_lost, delayed, service_unavailable}}}

Functional areas and failure types keep the order of the document (their `position`).
"""

from __future__ import annotations

import functools
import json
import math
import pkgutil
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import slug_re
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models import Q

from caredeck.accounts.access import has_capability
from caredeck.accounts.models import Organization
from caredeck.accounts.roles import Capability, OrganizationKind
from caredeck.core.audit import audit_record
from caredeck.topology.models import (
    AreaScope,
    Connectivity,
    Deployment,
    FailedElement,
    FailureImpact,
    FailureType,
    FunctionalArea,
    Geography,
    Pop,
    Region,
    Zone,
)

REFERENCE_CATALOG = Path(__file__).resolve().parent / "reference" / "catalog.yaml"
FORMAT_VERSION = 1
FORMATS = ("yaml", "json")
SECTIONS = ("geographies", "regions", "pops", "functional_areas", "failure_types", "impact")
# The summary counts the elements of each kind; zones are kept inside their regions.
KINDS = ("geographies", "regions", "zones", "pops", "functional_areas", "failure_types", "impact")
TEXT_FIELDS = ("operational", "agent", "customer")
FLAG_FIELDS = ("data_lost", "delayed", "service_unavailable")
# The reference catalog is about 25 kB; far larger is a mistake, not a catalog.
MAX_CHARACTERS = 2_000_000
MAX_LENGTHS = {"geography": 80, "region": 80, "zone": 80, "pop": 80, "area": 120, "failure": 120}
SLUG_MAX_LENGTH = 60

PathT = tuple[str | int, ...]


class CatalogError(ValidationError):
    """The document is not a valid catalog; nothing was changed.

    `errors` lists every problem as {"line": int | None, "path": str, "message": str},
    in the order of the file; `line` is None where no line applies (JSON given as data,
    or an element that the document lacks). As a ValidationError it answers 400 with
    {"catalog": ["line 12: regions.us-east.geography: ...", ...]} wherever services'
    validation errors are handled.
    """

    def __init__(self, errors: list[dict[str, Any]]):
        self.errors = sorted(errors, key=lambda e: (e["line"] is None, e["line"] or 0, e["path"]))
        super().__init__({"catalog": [error_text(e) for e in self.errors]})


def error_text(error: dict[str, Any]) -> str:
    where = f"line {error['line']}: " if error["line"] is not None else ""
    path = f"{error['path']}: " if error["path"] else ""
    return f"{where}{path}{error['message']}"


def _path_text(path: PathT) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text


# --- Export ----------------------------------------------------------------------------


def _availability(value: Any) -> float:
    return float(value)


def catalog_export() -> dict[str, Any]:
    """The whole catalog, in the layout of reference/catalog.yaml (every field explicit)."""
    regions = (
        Region.objects.select_related("geography")
        .prefetch_related(models.Prefetch("zones", queryset=Zone.objects.order_by("slug")))
        .order_by("geography__name", "name", "slug")
    )
    pops = (
        Pop.objects.select_related("geography")
        .prefetch_related(models.Prefetch("regions", queryset=Region.objects.order_by("slug")))
        .order_by("geography__name", "name", "slug")
    )
    areas = list(
        FunctionalArea.objects.select_related("home_region", "standby_region").order_by(
            "position", "name", "slug"
        )
    )
    failure_types = list(FailureType.objects.order_by("position", "name", "slug"))
    cells = {(cell.failure_type_id, cell.area_id): cell for cell in FailureImpact.objects.all()}
    impact: dict[str, Any] = {}
    for failure in failure_types:
        row = impact[failure.slug] = {}
        for area in areas:
            # A pair without a cell (only possible through direct database edits) is
            # exported as "no impact", so that every export can be imported again.
            cell = cells.get((failure.pk, area.pk)) or FailureImpact()
            row[area.slug] = {
                **{name: getattr(cell, name) for name in TEXT_FIELDS},
                **{name: bool(getattr(cell, name)) for name in FLAG_FIELDS},
            }
    return {
        "version": FORMAT_VERSION,
        "geographies": {
            geography.slug: {"name": geography.name}
            for geography in Geography.objects.order_by("name", "slug")
        },
        "regions": {
            region.slug: {
                "name": region.name,
                "geography": region.geography.slug,
                "zones": {zone.slug: {"name": zone.name} for zone in region.zones.all()},
            }
            for region in regions
        },
        "pops": {
            pop.slug: {
                "name": pop.name,
                "geography": pop.geography.slug,
                "regions": [region.slug for region in pop.regions.all()],
            }
            for pop in pops
        },
        "functional_areas": {
            area.slug: {
                "name": area.name,
                "services": list(area.services or []),
                "scope": area.scope,
                "home_region": area.home_region.slug if area.home_region else None,
                "standby_region": area.standby_region.slug if area.standby_region else None,
                "note": area.note,
                "components": [
                    {"name": c.get("name", ""), "availability": _availability(c["availability"])}
                    for c in (area.components or [])
                ],
            }
            for area in areas
        },
        "failure_types": {
            failure.slug: {
                "name": failure.name,
                "element": failure.element,
                "connectivity": failure.connectivity or None,
            }
            for failure in failure_types
        },
        "impact": impact,
    }


YAML_HEADER = (
    "# CareDeck catalog: topology and failure-mode matrix. Edit and import it again with\n"
    "# `caredeck manage catalog import FILE` or PUT /api/v1/topology/catalog/?format=yaml.\n"
)


def catalog_dump_yaml(data: dict[str, Any] | None = None) -> str:
    """The catalog (by default the current one) as a YAML document."""
    body = yaml.safe_dump(
        catalog_export() if data is None else data,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    return YAML_HEADER + body


def catalog_dump_json(data: dict[str, Any] | None = None) -> str:
    return json.dumps(catalog_export() if data is None else data, indent=2, ensure_ascii=False)


# --- Parsing: text -> data and the line of every path ------------------------------------


def _error(line: int | None, path: PathT, message: str) -> dict[str, Any]:
    return {"line": line, "path": _path_text(path), "message": message}


def _map_lines(node, path: PathT, lines: dict[PathT, int], problems: list, seen: set) -> None:
    """Record the line of every key and list item; report duplicate keys and aliases.

    PyYAML silently keeps the last of two equal keys, which would hide a second region
    with the same id; aliases could expand a small file into a huge one.
    """
    if id(node) in seen:
        problems.append(
            _error(
                node.start_mark.line + 1,
                path,
                "Anchors and aliases (&name, *name, <<) are not supported; write the values out.",
            )
        )
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(_error(line, path, "A key must be a plain id or field name."))
                continue
            key = key_node.value
            if key in first_line:
                problems.append(
                    _error(
                        line,
                        (*path, key),
                        f"Duplicate key {key!r}; it is also on line {first_line[key]}.",
                    )
                )
                continue
            first_line[key] = line
            lines[(*path, key)] = line
            _map_lines(value_node, (*path, key), lines, problems, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _map_lines(item, (*path, index), lines, problems, seen)


def _yaml_problem(exc: yaml.YAMLError, what: str) -> dict[str, Any]:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return _error(mark.line + 1 if mark else None, (), f"Not valid {what}: {problem}.")


def _load(text: str, fmt: str) -> tuple[Any, dict[PathT, int], list[dict[str, Any]]]:
    """Parse `text`; return the data, {path: line} and the duplicate keys found.

    Syntax errors and aliases raise CatalogError at once; duplicate keys are returned so
    that they are reported together with the rest of the document's errors.
    """
    if fmt not in FORMATS:
        raise CatalogError([_error(None, (), f"Unknown format {fmt!r}; use yaml or json.")])
    if not isinstance(text, str):
        raise CatalogError([_error(None, (), "The catalog must be text.")])
    if len(text) > MAX_CHARACTERS:
        raise CatalogError(
            [_error(None, (), f"The file is larger than {MAX_CHARACTERS} characters.")]
        )
    lines: dict[PathT, int] = {}
    problems: list[dict[str, Any]] = []
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CatalogError([_error(exc.lineno, (), f"Not valid JSON: {exc.msg}.")]) from None
        except RecursionError:
            raise CatalogError([_error(None, (), "The document is nested too deeply.")]) from None
        # JSON as written by people and by json.dumps is also YAML, so the same composer
        # gives the lines; where it cannot, the errors simply come without lines.
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except (yaml.YAMLError, RecursionError):
            node = None
        if node is not None:
            _map_lines(node, (), lines, problems, set())
        return data, lines, problems
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _map_lines(node, (), lines, problems, set())
        if any(p["message"].startswith("Anchors") for p in problems):
            raise CatalogError(problems)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise CatalogError([_yaml_problem(exc, "YAML")]) from None
    except RecursionError:
        raise CatalogError([_error(None, (), "The document is nested too deeply.")]) from None
    finally:
        loader.dispose()
    return data, lines, problems


# --- Validation: data -> the normalized catalog ------------------------------------------


class _Checker:
    """Collects every error of a document, each with the line of its path."""

    def __init__(self, lines: dict[PathT, int]):
        self.lines = lines
        self.errors: list[dict[str, Any]] = []

    def line_of(self, path: PathT) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def error(self, path: PathT, message: str) -> None:
        self.errors.append(_error(self.line_of(path), path, message))

    # Shapes

    def mapping(self, path: PathT, value: Any, what: str) -> dict | None:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(path, f"Expected {what}.")
            return None
        return value

    def fields(
        self, path: PathT, body: Any, *, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> dict | None:
        if not isinstance(body, dict):
            self.error(path, f"Expected a mapping of fields ({', '.join(required + optional)}).")
            return None
        allowed = required + optional
        for key in body:
            if key not in allowed:
                self.error(
                    (*path, str(key)),
                    f"Unknown field {str(key)!r}; the fields are: {', '.join(allowed)}.",
                )
        for key in required:
            if key not in body:
                self.error(path, f"Missing field {key!r}.")
        return body

    def ids(self, path: PathT, section: dict) -> list[tuple[str, PathT, Any]]:
        """The (id, path, body) of each entry of a section whose id is valid."""
        valid = []
        for key, body in section.items():
            entry_path = (*path, str(key))
            if not isinstance(key, str):
                self.error(entry_path, f"The id {key!r} must be text; put it in quotes.")
            elif not slug_re.match(key):
                self.error(entry_path, f"The id {key!r} may use only letters, digits, - and _.")
            elif len(key) > SLUG_MAX_LENGTH:
                self.error(entry_path, f"The id is longer than {SLUG_MAX_LENGTH} characters.")
            else:
                valid.append((key, entry_path, body))
        return valid

    # Values

    def name(self, path: PathT, body: dict, max_length: int) -> str:
        value = body.get("name")
        if "name" not in body:
            return ""  # reported as a missing field
        if not isinstance(value, str) or not value.strip():
            self.error((*path, "name"), "Give a name (text).")
            return ""
        if len(value.strip()) > max_length:
            self.error((*path, "name"), f"Use at most {max_length} characters.")
        return value.strip()

    def reference(
        self, path: PathT, value: Any, known: dict | set, what: str, *, nullable: bool = False
    ) -> str | None:
        if value is None or value == "":
            if not nullable:
                self.error(path, f"Name the {what} (its id).")
            return None
        if not isinstance(value, str) or value not in known:
            self.error(path, f"Unknown {what} {value!r}; it must be one of this file's {what} ids.")
            return None
        return value

    def text(self, path: PathT, value: Any, *, blank: bool = False) -> str:
        if value is None and blank:
            return ""
        if not isinstance(value, str) or (not blank and not value.strip()):
            self.error(
                path,
                'Expected text (write "none" for no impact).' if not blank else "Expected text.",
            )
            return ""
        return value

    def flag(self, path: PathT, value: Any) -> bool:
        if not isinstance(value, bool):
            self.error(path, "Expected true or false.")
            return False
        return value

    def choice(self, path: PathT, value: Any, choices: type[models.TextChoices]) -> str | None:
        if value not in choices.values:
            self.error(path, f"Expected one of: {', '.join(choices.values)}.")
            return None
        return value


def _paths_with_nul(value: Any, path: PathT = ()) -> list[PathT]:
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    found: list[PathT] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\x00" in key:
                found.append(path)
            found += _paths_with_nul(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths_with_nul(item, (*path, index))
    return found


def _validate(
    data: Any, lines: dict[PathT, int], problems: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The normalized catalog (the layout of catalog_export), or CatalogError."""
    check = _Checker(lines)
    check.errors.extend(problems or [])
    nul_paths = _paths_with_nul(data)
    if nul_paths:
        # Neither database stores NUL in text (PostgreSQL refuses it outright).
        for path in nul_paths:
            check.error(path, "Text may not contain NUL (\\0) characters.")
        raise CatalogError(check.errors)
    if not isinstance(data, dict):
        check.error((), "The catalog must be a mapping of sections: " + ", ".join(SECTIONS) + ".")
        raise CatalogError(check.errors)
    for key in data:
        if key not in (*SECTIONS, "version"):
            check.error(
                (str(key),),
                f"Unknown section {str(key)!r}; the sections are: {', '.join(SECTIONS)}.",
            )
    if "version" in data and data["version"] != FORMAT_VERSION:
        check.error(
            ("version",),
            f"Unsupported version {data['version']!r}; this is version {FORMAT_VERSION}.",
        )
    sections: dict[str, dict] = {}
    for name in SECTIONS:
        if name not in data:
            check.error((), f"Missing section {name!r}.")
            sections[name] = {}
            continue
        section = check.mapping((name,), data[name], f"a mapping of {name} by id")
        sections[name] = section if section is not None else {}

    out: dict[str, Any] = {"version": FORMAT_VERSION}
    # Zones, regions and PoPs are all failure targets, addressed by id alone.
    target_of: dict[str, str] = {}

    def claim_target(path: PathT, slug: str, what: str) -> None:
        if slug in target_of:
            check.error(
                path,
                f"The id {slug!r} is already used by {target_of[slug]}; zones, "
                "regions and PoPs need distinct ids.",
            )
        else:
            target_of[slug] = f"{what} {slug}"

    geographies = out["geographies"] = {}
    geography_ids = set(sections["geographies"])
    region_ids = set(sections["regions"])
    for slug, path, body in check.ids(("geographies",), sections["geographies"]):
        if check.fields(path, body, required=("name",)) is not None:
            geographies[slug] = {"name": check.name(path, body, MAX_LENGTHS["geography"])}

    regions = out["regions"] = {}
    region_entries = check.ids(("regions",), sections["regions"])
    for slug, path, _body in region_entries:
        claim_target(path, slug, "region")
    for slug, path, body in region_entries:
        if check.fields(path, body, required=("name", "geography", "zones")) is None:
            continue
        zones_out: dict[str, Any] = {}
        regions[slug] = {
            "name": check.name(path, body, MAX_LENGTHS["region"]),
            "geography": check.reference(
                (*path, "geography"), body.get("geography"), geography_ids, "geography"
            )
            if "geography" in body
            else None,
            "zones": zones_out,
        }
        if "zones" not in body:
            continue
        zones = check.mapping((*path, "zones"), body["zones"], "a mapping of zones by id")
        if zones is None:
            continue
        if not zones:
            check.error((*path, "zones"), "A region has at least one availability zone.")
        for zone_slug, zone_path, zone_body in check.ids((*path, "zones"), zones):
            claim_target(zone_path, zone_slug, "zone")
            if check.fields(zone_path, zone_body, required=("name",)) is not None:
                zones_out[zone_slug] = {
                    "name": check.name(zone_path, zone_body, MAX_LENGTHS["zone"])
                }

    pops = out["pops"] = {}
    for slug, path, body in check.ids(("pops",), sections["pops"]):
        claim_target(path, slug, "PoP")
        if check.fields(path, body, required=("name", "geography"), optional=("regions",)) is None:
            continue
        linked: list[str] = []
        raw = body.get("regions")
        if raw is not None and not isinstance(raw, list):
            check.error((*path, "regions"), "Expected a list of region ids.")
        for index, value in enumerate(raw if isinstance(raw, list) else []):
            found = check.reference((*path, "regions", index), value, region_ids, "region")
            if found in linked:
                check.error((*path, "regions", index), f"Region {found!r} is listed twice.")
            elif found:
                linked.append(found)
        pops[slug] = {
            "name": check.name(path, body, MAX_LENGTHS["pop"]),
            "geography": check.reference(
                (*path, "geography"), body.get("geography"), geography_ids, "geography"
            )
            if "geography" in body
            else None,
            "regions": sorted(linked),
        }

    areas = out["functional_areas"] = {}
    for slug, path, body in check.ids(("functional_areas",), sections["functional_areas"]):
        if (
            check.fields(
                path,
                body,
                required=("name", "scope"),
                optional=("services", "home_region", "standby_region", "note", "components"),
            )
            is None
        ):
            continue
        scope = (
            check.choice((*path, "scope"), body.get("scope"), AreaScope)
            if "scope" in body
            else None
        )
        home = check.reference(
            (*path, "home_region"), body.get("home_region"), region_ids, "region", nullable=True
        )
        standby = check.reference(
            (*path, "standby_region"),
            body.get("standby_region"),
            region_ids,
            "region",
            nullable=True,
        )
        if scope == AreaScope.CENTRALIZED and home is None and not body.get("home_region"):
            check.error(path, "A centralized area needs a home_region.")
        if scope and scope != AreaScope.CENTRALIZED:
            for field, value in (("home_region", home), ("standby_region", standby)):
                if value is not None:
                    check.error(
                        (*path, field),
                        f"Only a centralized area has a {field}; this one is {scope}.",
                    )
        if standby is not None and standby == home:
            check.error(
                (*path, "standby_region"), "The standby region must differ from the home region."
            )
        areas[slug] = {
            "name": check.name(path, body, MAX_LENGTHS["area"]),
            "services": _services(check, (*path, "services"), body.get("services")),
            "scope": scope,
            "home_region": home,
            "standby_region": standby,
            "note": check.text((*path, "note"), body.get("note"), blank=True),
            "components": _components(check, (*path, "components"), body.get("components")),
        }

    failures = out["failure_types"] = {}
    for slug, path, body in check.ids(("failure_types",), sections["failure_types"]):
        if (
            check.fields(path, body, required=("name", "element"), optional=("connectivity",))
            is None
        ):
            continue
        element = (
            check.choice((*path, "element"), body.get("element"), FailedElement)
            if "element" in body
            else None
        )
        connectivity = body.get("connectivity") or None
        if connectivity is not None:
            connectivity = check.choice((*path, "connectivity"), connectivity, Connectivity)
        if element == FailedElement.POP and connectivity is None and not body.get("connectivity"):
            check.error(
                path,
                "A PoP failure type names the tenants' connectivity it is for: "
                "private_line or internet.",
            )
        if element and element != FailedElement.POP and connectivity is not None:
            check.error((*path, "connectivity"), "Only a PoP failure type has a connectivity.")
        failures[slug] = {
            "name": check.name(path, body, MAX_LENGTHS["failure"]),
            "element": element,
            "connectivity": connectivity,
        }

    # References are checked against every id a section names, so that an element with a
    # mistake of its own does not also make each reference to it an error.
    out["impact"] = _impact(
        check,
        sections["impact"],
        [key for key in sections["failure_types"] if isinstance(key, str)],
        [key for key in sections["functional_areas"] if isinstance(key, str)],
    )
    if check.errors:
        raise CatalogError(check.errors)
    return out


def _services(check: _Checker, path: PathT, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        check.error(path, "Expected a list of service names.")
        return []
    services = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            check.error((*path, index), "Expected a service name (text).")
        else:
            services.append(item.strip())
    return services


def _components(check: _Checker, path: PathT, value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        check.error(path, "Expected a list of components ({name, availability}).")
        return []
    components = []
    for index, item in enumerate(value):
        item_path = (*path, index)
        if check.fields(item_path, item, required=("name", "availability")) is None:
            continue
        name = item.get("name")
        if "name" in item and (not isinstance(name, str) or not name.strip()):
            check.error((*item_path, "name"), "Give the component a name (text).")
        availability = item.get("availability")
        if "availability" in item and not _is_availability(availability):
            check.error(
                (*item_path, "availability"),
                "Expected a number from 0 to 1, e.g. 0.9999 for 99.99 %.",
            )
            continue
        if isinstance(name, str) and "availability" in item:
            components.append({"name": name.strip(), "availability": float(availability)})
    return components


def _is_availability(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= 1
    )


def _impact(check: _Checker, section: dict, failures: list, areas: list) -> dict[str, Any]:
    impact: dict[str, Any] = {}
    for failure_slug, row_path, row in check.ids(("impact",), section):
        if failure_slug not in failures:
            check.error(
                row_path,
                f"Unknown failure type {failure_slug!r}; it must be one of "
                "this file's failure_types.",
            )
            continue
        cells = check.mapping(row_path, row, "a mapping of cells by functional area id")
        if cells is None:
            continue
        row_out = impact[failure_slug] = {}
        for area_slug, cell_path, cell in check.ids(row_path, cells):
            if area_slug not in areas:
                check.error(
                    cell_path,
                    f"Unknown functional area {area_slug!r}; it must be one "
                    "of this file's functional_areas.",
                )
                continue
            if check.fields(cell_path, cell, required=TEXT_FIELDS, optional=FLAG_FIELDS) is None:
                continue
            row_out[area_slug] = {
                **{
                    name: check.text((*cell_path, name), cell[name]) if name in cell else ""
                    for name in TEXT_FIELDS
                },
                **{
                    name: check.flag((*cell_path, name), cell[name]) if name in cell else False
                    for name in FLAG_FIELDS
                },
            }
        missing = [slug for slug in areas if slug not in row_out and slug not in cells]
        if missing:
            check.error(
                row_path,
                f'Missing cells for {", ".join(missing)} (write "none" texts for no impact).',
            )
    for failure_slug in failures:
        if failure_slug not in section:
            check.error(("impact",), f"Missing the impact row of failure type {failure_slug!r}.")
    return impact


def catalog_parse(text: str, fmt: str = "yaml") -> dict[str, Any]:
    """Parse and validate a catalog document, without the database.

    Returns the normalized catalog (the layout of catalog_export, every field explicit);
    raises CatalogError with every error and its line.
    """
    return _validate(*_load(text, fmt))


# --- Import ------------------------------------------------------------------------------


def _check_removals(catalog: dict[str, Any], lines: dict[PathT, int]) -> None:
    """Refuse to delete what a tenant's deployment uses (the deployment would break)."""
    check = _Checker(lines)

    def refuse(section: str, slug: str, what: str, users: models.QuerySet) -> None:
        names = list(
            users.order_by("organization__name").values_list("organization__name", flat=True)
        )
        if not names:
            return
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        check.error(
            (section, slug),
            f"{what} {slug!r} is missing from the file but used by the deployment of "
            f"{len(names)} tenant(s) ({shown}); move them first, or keep it.",
        )

    gone_regions = set(Region.objects.values_list("slug", flat=True)) - set(catalog["regions"])
    for slug in sorted(gone_regions):
        refuse(
            "regions",
            slug,
            "Region",
            Deployment.objects.filter(
                Q(primary_region__slug=slug) | Q(secondary_region__slug=slug)
            ).distinct(),
        )
    gone_pops = set(Pop.objects.values_list("slug", flat=True)) - set(catalog["pops"])
    for slug in sorted(gone_pops):
        refuse("pops", slug, "PoP", Deployment.objects.filter(pops__slug=slug).distinct())
    gone_areas = set(FunctionalArea.objects.values_list("slug", flat=True)) - set(
        catalog["functional_areas"]
    )
    for slug in sorted(gone_areas):
        refuse(
            "functional_areas",
            slug,
            "Functional area",
            Deployment.objects.filter(areas__slug=slug).distinct(),
        )
    if check.errors:
        raise CatalogError(check.errors)


class _Tally:
    def __init__(self) -> None:
        self.created: dict[str, list[str]] = {kind: [] for kind in KINDS}
        self.updated: dict[str, list[str]] = {kind: [] for kind in KINDS}
        self.deleted: dict[str, list[str]] = {kind: [] for kind in KINDS}

    def upsert(self, kind: str, model, existing: dict, key, create: dict, values: dict):
        """Create the object, or save the fields of `values` that differ."""
        obj = existing.get(key)
        label = key if isinstance(key, str) else "/".join(key)
        if obj is None:
            obj = model.objects.create(**create, **values)
            self.created[kind].append(label)
            return obj
        changed = [name for name, value in values.items() if getattr(obj, name) != value]
        if changed:
            for name in changed:
                setattr(obj, name, values[name])
            obj.save(update_fields=[model._meta.get_field(name).name for name in changed])
            self.updated[kind].append(label)
        return obj

    def delete(self, kind: str, queryset: models.QuerySet, labels: list[str]) -> None:
        if labels:
            queryset.delete()
            self.deleted[kind].extend(labels)


def _write(catalog: dict[str, Any]) -> _Tally:
    tally = _Tally()
    geographies = {g.slug: g for g in Geography.objects.all()}
    for slug, body in catalog["geographies"].items():
        geographies[slug] = tally.upsert(
            "geographies", Geography, geographies, slug, {"slug": slug}, {"name": body["name"]}
        )

    regions = {r.slug: r for r in Region.objects.all()}
    zones = {z.slug: z for z in Zone.objects.all()}
    for slug, body in catalog["regions"].items():
        regions[slug] = tally.upsert(
            "regions",
            Region,
            regions,
            slug,
            {"slug": slug},
            {"name": body["name"], "geography_id": geographies[body["geography"]].pk},
        )
        for zone_slug, zone in body["zones"].items():
            zones[zone_slug] = tally.upsert(
                "zones",
                Zone,
                zones,
                zone_slug,
                {"slug": zone_slug},
                {"name": zone["name"], "region_id": regions[slug].pk},
            )

    pops = {p.slug: p for p in Pop.objects.prefetch_related("regions")}
    for slug, body in catalog["pops"].items():
        existed = slug in pops
        pop = pops[slug] = tally.upsert(
            "pops",
            Pop,
            pops,
            slug,
            {"slug": slug},
            {"name": body["name"], "geography_id": geographies[body["geography"]].pk},
        )
        wanted = {regions[r].pk for r in body["regions"]}
        if not existed or {r.pk for r in pop.regions.all()} != wanted:
            pop.regions.set(wanted)
            if existed and slug not in tally.updated["pops"]:
                tally.updated["pops"].append(slug)

    def region_id(slug: str | None) -> int | None:
        return regions[slug].pk if slug else None

    areas = {a.slug: a for a in FunctionalArea.objects.all()}
    for position, (slug, body) in enumerate(catalog["functional_areas"].items()):
        areas[slug] = tally.upsert(
            "functional_areas",
            FunctionalArea,
            areas,
            slug,
            {"slug": slug},
            {
                "name": body["name"],
                "services": body["services"],
                "scope": body["scope"],
                "home_region_id": region_id(body["home_region"]),
                "standby_region_id": region_id(body["standby_region"]),
                "note": body["note"],
                "components": body["components"],
                "position": position,
            },
        )

    failures = {f.slug: f for f in FailureType.objects.all()}
    for position, (slug, body) in enumerate(catalog["failure_types"].items()):
        failures[slug] = tally.upsert(
            "failure_types",
            FailureType,
            failures,
            slug,
            {"slug": slug},
            {
                "name": body["name"],
                "element": body["element"],
                "connectivity": body["connectivity"] or "",
                "position": position,
            },
        )

    cells = {
        (c.failure_type.slug, c.area.slug): c
        for c in FailureImpact.objects.select_related("failure_type", "area")
    }
    for failure_slug, row in catalog["impact"].items():
        for area_slug, cell in row.items():
            tally.upsert(
                "impact",
                FailureImpact,
                cells,
                (failure_slug, area_slug),
                {"failure_type": failures[failure_slug], "area": areas[area_slug]},
                dict(cell),
            )

    # Delete what the document lacks, dependents first (regions and PoPs protect their
    # geography, regions protect the areas homed there).
    wanted_cells = {(f, a) for f, row in catalog["impact"].items() for a in row}
    gone_cells = [key for key in cells if key not in wanted_cells]
    tally.delete(
        "impact",
        FailureImpact.objects.filter(pk__in=[cells[k].pk for k in gone_cells]),
        ["/".join(k) for k in gone_cells],
    )
    for kind, model, objects, wanted in (
        ("failure_types", FailureType, failures, catalog["failure_types"]),
        ("functional_areas", FunctionalArea, areas, catalog["functional_areas"]),
        ("pops", Pop, pops, catalog["pops"]),
        ("zones", Zone, zones, {z for r in catalog["regions"].values() for z in r["zones"]}),
        ("regions", Region, regions, catalog["regions"]),
        ("geographies", Geography, geographies, catalog["geographies"]),
    ):
        gone = sorted(slug for slug in objects if slug not in wanted)
        tally.delete(kind, model.objects.filter(slug__in=gone), gone)
    return tally


def _totals() -> dict[str, int]:
    return {
        "geographies": Geography.objects.count(),
        "regions": Region.objects.count(),
        "zones": Zone.objects.count(),
        "pops": Pop.objects.count(),
        "functional_areas": FunctionalArea.objects.count(),
        "failure_types": FailureType.objects.count(),
        "impact": FailureImpact.objects.count(),
    }


def _audit_import(*, actor, action: str, before: dict, after: dict, tally: _Tally) -> None:
    """One entry on the provider organization, which owns the platform catalog.

    The catalog is not one object, and an import touches up to hundreds of elements; its
    record is one entry in the provider's history naming what was created, changed and
    deleted, while the element edit services (services.py) audit each element itself.
    """
    provider = Organization.objects.filter(kind=OrganizationKind.PROVIDER).first()
    if provider is None:  # a database flushed by a test, before its data migration ran again
        return
    changes: dict[str, list[Any]] = {
        kind: [before[kind], after[kind]] for kind in KINDS if before[kind] != after[kind]
    }
    for verb, found in (
        ("created", tally.created),
        ("updated", tally.updated),
        ("deleted", tally.deleted),
    ):
        labels = [f"{kind}:{label}" for kind in KINDS for label in found[kind]]
        if labels:
            changes[verb] = [None, labels] if verb != "deleted" else [labels, None]
    audit_record(actor=actor, obj=provider, action=action, changes=changes)


def catalog_import(
    *,
    actor,
    text: str | None = None,
    data: dict | None = None,
    fmt: str = "yaml",
    dry_run: bool = False,
    action: str = "catalog_imported",
) -> dict[str, Any]:
    """Replace the catalog with a document given as `text` (yaml or json) or as `data`.

    `actor` is the user (who needs MANAGE_TOPOLOGY), or None for the system itself (the
    command line and the reference load after migrate). Everything is validated first;
    any error raises CatalogError and changes nothing. With `dry_run` the import runs and
    is rolled back, so the summary says what it would do.

    Returns {"totals": {kind: n}, "created"|"updated"|"deleted": {kind: n},
    "changed": bool, "dry_run": bool}, kinds being KINDS.
    """
    if actor is not None and not has_capability(actor, Capability.MANAGE_TOPOLOGY):
        raise PermissionDenied("Your roles do not allow this (model the platform).")
    if (text is None) == (data is None):
        raise ValueError("Give the catalog as text or as data, not both.")
    parsed, lines, problems = _load(text, fmt) if text is not None else (data, {}, [])
    catalog = _validate(parsed, lines, problems)
    with transaction.atomic():
        # One import at a time: the provider's row is the lock of the whole catalog.
        list(Organization.objects.select_for_update().filter(kind=OrganizationKind.PROVIDER))
        _check_removals(catalog, lines)
        before = _totals()
        tally = _write(catalog)
        after = _totals()
        _audit_import(actor=actor, action=action, before=before, after=after, tally=tally)
        if dry_run:
            transaction.set_rollback(True)
    counts = {
        verb: {kind: len(found[kind]) for kind in KINDS}
        for verb, found in (
            ("created", tally.created),
            ("updated", tally.updated),
            ("deleted", tally.deleted),
        )
    }
    return {
        "totals": after,
        **counts,
        "changed": any(n for verb in counts.values() for n in verb.values()),
        "dry_run": dry_run,
    }


# --- The reference catalog ---------------------------------------------------------------


def reference_catalog_text() -> str:
    return REFERENCE_CATALOG.read_text(encoding="utf-8")


def load_reference_catalog(*, actor=None) -> dict[str, Any]:
    """Replace the catalog with the reference one shipped in reference/catalog.yaml."""
    return catalog_import(actor=actor, text=reference_catalog_text(), action="catalog_loaded")


def catalog_is_empty() -> bool:
    return not (
        Region.objects.exists() or FunctionalArea.objects.exists() or FailureType.objects.exists()
    )


@functools.cache
def _topology_migrations() -> frozenset[tuple[str, str]]:
    from caredeck.topology import migrations

    return frozenset(
        ("topology", module.name)
        for module in pkgutil.iter_modules(migrations.__path__)
        if module.name[:1].isdigit()
    )


def load_reference_catalog_if_empty(
    sender=None, *, using: str = DEFAULT_DB_ALIAS, verbosity: int = 1, **kwargs
) -> None:
    """post_migrate: give a fresh install (and the test database) the reference catalog.

    It runs after every migrate and flush, and loads only into an empty catalog whose
    tables are fully migrated, so a provider's own catalog is never overwritten.
    """
    if using != DEFAULT_DB_ALIAS:
        return
    from django.db.migrations.recorder import MigrationRecorder

    applied = MigrationRecorder(connections[using]).applied_migrations()
    if not _topology_migrations() <= set(applied):
        return
    if not catalog_is_empty():
        return
    summary = load_reference_catalog()
    if verbosity >= 2:
        totals = summary["totals"]
        print(  # noqa: T201 - migrate's own output, as Django's post_migrate handlers do
            f"  Loaded the reference topology catalog: {totals['regions']} regions, "
            f"{totals['pops']} PoPs, {totals['functional_areas']} functional areas, "
            f"{totals['impact']} matrix cells."
        )
