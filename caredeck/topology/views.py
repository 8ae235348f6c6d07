"""Pages of the platform topology: the map, the platform model (elements and functional
areas), the failure matrix, catalog import and export, tenants' deployments, the
"what if" impact analysis and designed availability.

Thin: parse with a form, call one service or selector, render (an htmx partial when htmx
asks) or redirect. Platform administrators (MANAGE_TOPOLOGY) change the catalog and the
deployments; other provider staff read them; a tenant's people see their own deployment,
availability and impact, and another tenant's pages answer 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from caredeck.accounts.access import has_capability, is_provider_staff, tenants_for
from caredeck.accounts.models import Organization
from caredeck.accounts.roles import Capability, OrganizationKind
from caredeck.core.audit import audit_entries_for
from caredeck.core.exceptions import Conflict
from caredeck.topology import forms, selectors, services
from caredeck.topology.availability import tenant_availability
from caredeck.topology.catalog import CatalogError, catalog_dump_yaml, catalog_import
from caredeck.topology.deployments import deployment_set
from caredeck.topology.impact import impact_of
from caredeck.topology.models import Connectivity, FailedElement
from caredeck.topology.svg import MapMarks, topology_svgs
from caredeck.web.forms import add_service_errors

TENANTS_PER_PAGE = 20
NOT_AFFECTED_PER_PAGE = 100
DEPLOYMENTS_PER_PAGE = 50


def _require_staff(request) -> None:
    if not is_provider_staff(request.user):
        raise PermissionDenied


def _require_manage(request, organization=None) -> None:
    if not has_capability(request.user, Capability.MANAGE_TOPOLOGY, organization):
        raise PermissionDenied


def _can_manage(request) -> bool:
    return has_capability(request.user, Capability.MANAGE_TOPOLOGY)


# --- The map ---------------------------------------------------------------------------


@login_required
def topology_map(request):
    _require_staff(request)
    geographies = selectors.platform_layout()
    return render(
        request, "topology/map.html",
        {
            "geographies": geographies,
            "maps": topology_svgs(
                geographies, title="Topology map of the platform",
                marks=MapMarks(link=reverse("topology-impact") + "?target={id}"),
            ),
            "counts": selectors.platform_counts(),
            "can_manage": _can_manage(request),
            "section": "map",
        },
    )


# --- Platform elements: geographies, regions, zones, PoPs -------------------------------


def _element_initial(kind: str, element) -> dict:
    initial = {"slug": element.slug, "name": element.name}
    if kind in ("region", "pop"):
        initial["geography"] = element.geography
    if kind == "zone":
        initial["region"] = element.region
    if kind == "pop":
        initial["regions"] = list(element.regions.all())
    return initial


@login_required
def element_create(request, kind):
    _require_manage(request)
    form = forms.ElementForm(request.POST or None, kind=kind, initial=request.GET.dict())
    if request.method == "POST" and form.is_valid():
        try:
            element = getattr(services, f"{kind}_create")(
                actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{selectors.ELEMENT_LABELS[kind]} {element.name} created.")
            return redirect("topology")
    return render(
        request, "topology/element_form.html",
        {
            "form": form, "kind": kind, "kind_label": selectors.ELEMENT_LABELS[kind],
            "section": "map",
        },
    )


@login_required
def element_edit(request, kind, **ids):
    element = selectors.element_get(kind, ids[kind])
    _require_staff(request)
    can_manage = _can_manage(request)
    data = request.POST if request.method == "POST" else None
    if data is not None and not can_manage:
        raise PermissionDenied
    form = forms.ElementForm(
        data, kind=kind, editing=True, initial=_element_initial(kind, element)
    )
    if data is not None and form.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if k != "slug"}
        try:
            getattr(services, f"{kind}_update")(actor=request.user, **{kind: element}, **fields)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{selectors.ELEMENT_LABELS[kind]} {element.slug} saved.")
            return redirect("topology")
    if not can_manage:
        for field in form.fields.values():
            field.disabled = True
    return render(
        request, "topology/element_form.html",
        {
            "form": form, "kind": kind, "kind_label": selectors.ELEMENT_LABELS[kind],
            "element": element, "can_manage": can_manage, "section": "map",
            "history": audit_entries_for(element)[:30],
        },
    )


@login_required
def element_delete(request, kind, **ids):
    element = selectors.element_get(kind, ids[kind])
    _require_manage(request)
    if request.method == "POST":
        try:
            getattr(services, f"{kind}_delete")(actor=request.user, **{kind: element})
        except Conflict as exc:
            messages.error(request, f"{element.name} was not deleted: {exc.reason}")
            return redirect(f"topology-{kind}", element.slug)
        messages.success(request, f"{selectors.ELEMENT_LABELS[kind]} {element.name} deleted.")
        return redirect("topology")
    return render(
        request, "topology/element_delete.html",
        {
            "element": element, "kind": kind, "kind_label": selectors.ELEMENT_LABELS[kind],
            "section": "map",
        },
    )


# --- Functional areas ------------------------------------------------------------------


@login_required
def area_list(request):
    _require_staff(request)
    return render(
        request, "topology/area_list.html",
        {
            "areas": selectors.areas(),
            "can_manage": _can_manage(request),
            "section": "areas",
        },
    )


@login_required
def area_edit(request, area):
    instance = selectors.area_get(area)
    _require_staff(request)
    can_manage = _can_manage(request)
    data = request.POST if request.method == "POST" else None
    if data is not None and not can_manage:
        raise PermissionDenied
    form = forms.AreaForm(data, instance=instance)
    components = forms.ComponentFormSet(
        data, prefix="components",
        initial=forms.component_initial(instance.components or []),
    )
    if data is not None and form.is_valid() and components.is_valid():
        try:
            services.area_update(
                actor=request.user, area=instance, **form.cleaned_data,
                components=[c for c in (f.component() for f in components) if c],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{instance.name} saved.")
            return redirect("topology-area-list")
    return render(
        request, "topology/area_form.html",
        {
            "form": form, "components": components, "area": instance,
            "can_manage": can_manage, "section": "areas",
            "history": audit_entries_for(instance)[:30],
        },
    )


# --- The failure matrix ----------------------------------------------------------------


@login_required
def matrix(request):
    _require_staff(request)
    failure_types = list(selectors.failure_types())
    chosen = request.GET.get("failure", "")
    columns = [t for t in failure_types if t.slug == chosen] or failure_types
    return render(
        request, "topology/matrix.html",
        {
            "failure_types": failure_types,
            "columns": columns,
            "chosen": chosen if len(columns) == 1 and chosen else "",
            "rows": selectors.failure_matrix(columns),
            "can_manage": _can_manage(request),
            "section": "matrix",
        },
    )


@login_required
def matrix_cell(request, failure, area):
    cell = selectors.cell_get(failure, area)
    _require_staff(request)
    can_manage = _can_manage(request)
    inline = bool(request.htmx)
    context = {"cell": cell, "can_manage": can_manage, "inline": inline, "section": "matrix"}
    if inline and request.method == "GET" and request.GET.get("show"):
        # "Cancel" in the grid: the cell as it reads, without its form.
        return render(request, "topology/_cell.html", context)
    if request.method == "POST":
        _require_manage(request)
    # Several cells may be open in the grid at once: each form's ids are its own.
    form = forms.CellForm(
        request.POST or None, instance=cell, prefix=f"{cell.failure_type.slug}-{cell.area.slug}"
    )
    if request.method == "POST" and form.is_valid():
        try:
            cell = services.impact_cell_update(
                actor=request.user, cell=cell, **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if inline:
                return render(
                    request, "topology/_cell.html", {**context, "cell": cell, "saved": True}
                )
            messages.success(request, f"Saved: {cell.area.name} when {cell.failure_type.name}.")
            return redirect(
                reverse("topology-matrix") + f"?failure={cell.failure_type.slug}"
                + f"#cell-{cell.failure_type.slug}-{cell.area.slug}"
            )
    context["form"] = form
    if inline:
        return render(request, "topology/_cell_form.html", context)
    context["history"] = audit_entries_for(cell)[:30] if cell.pk else []
    return render(request, "topology/cell_form.html", context)


# --- Catalog import and export ---------------------------------------------------------


@login_required
def catalog(request):
    _require_staff(request)
    can_manage = _can_manage(request)
    form = forms.CatalogUploadForm(request.POST or None, request.FILES or None)
    errors, summary = [], None
    if request.method == "POST":
        _require_manage(request)
        if form.is_valid():
            dry_run = request.POST.get("action") == "check"
            try:
                summary = catalog_import(
                    actor=request.user, text=form.cleaned_data["text"], fmt="yaml",
                    dry_run=dry_run,
                )
            except CatalogError as exc:
                errors = exc.errors
            else:
                if not dry_run:
                    messages.success(request, selectors.import_summary_text(summary))
                    return redirect("topology-catalog")
    return render(
        request, "topology/catalog.html",
        {
            "form": form if can_manage else None,
            "errors": errors,
            "summary": summary,
            "summary_text": selectors.import_summary_text(summary) if summary else "",
            "counts": selectors.platform_counts(),
            "can_manage": can_manage,
            "section": "catalog",
        },
    )


@login_required
@require_GET
def catalog_export(request):
    _require_staff(request)
    response = HttpResponse(
        catalog_dump_yaml(), content_type="application/yaml; charset=utf-8"
    )
    day = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="caredeck-catalog-{day}.yaml"'
    return response


# --- Deployments -----------------------------------------------------------------------


@login_required
def platform(request):
    """The "Platform" entry of a tenant's navigation: its own deployment page."""
    return redirect("topology-deployment", request.tenant.slug)


@login_required
def deployment_list(request):
    _require_staff(request)
    query = request.GET.get("q", "").strip()
    region = request.GET.get("region", "")
    connectivity = request.GET.get("connectivity", "")
    if connectivity not in Connectivity.values:
        connectivity = ""
    deployments = selectors.deployments_list(
        request.user, query=query, region=region, connectivity=connectivity
    )
    page = Paginator(deployments, DEPLOYMENTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request, "topology/deployment_list.html",
        {
            "page": page, "query": query, "region": region, "connectivity": connectivity,
            "regions": selectors.impact_targets()[0][1],
            "connectivities": Connectivity.choices,
            "section": "deployments",
        },
    )


def _own_marks(deployment, **kwargs) -> MapMarks:
    own = {}
    if deployment is not None:
        for pop in deployment.pops.all():
            own[pop.slug] = "Your PoP"
        if deployment.secondary_region_id:
            own[deployment.secondary_region.slug] = "Secondary region"
        own[deployment.primary_region.slug] = "Primary region"
    return MapMarks(own=own, **kwargs)


@login_required
def deployment_detail(request, org):
    organization, deployment = selectors.deployment_of(request.user, org)
    staff = is_provider_staff(request.user)
    geographies = selectors.platform_layout()
    return render(
        request, "topology/deployment_detail.html",
        {
            "organization": organization,
            "deployment": deployment,
            "maps": topology_svgs(
                geographies, title=f"Where {organization.name} runs",
                marks=_own_marks(deployment, show_counts=False),
            ) if deployment else None,
            "can_edit": has_capability(request.user, Capability.MANAGE_TOPOLOGY, organization),
            "staff": staff,
            "tab": "deployment",
            "section": "deployments",
        },
    )


@login_required
def deployment_edit(request, org):
    organization, deployment = selectors.deployment_of(request.user, org)
    _require_manage(request, organization)
    form = forms.DeploymentForm(
        request.POST or None, initial=forms.DeploymentForm.initial_for(deployment)
    )
    if request.method == "POST" and form.is_valid():
        try:
            deployment_set(actor=request.user, organization=organization, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Deployment of {organization.name} saved.")
            return redirect("topology-deployment", organization.slug)
    return render(
        request, "topology/deployment_form.html",
        {
            "form": form, "organization": organization, "deployment": deployment,
            "section": "deployments",
        },
    )


# --- Availability ----------------------------------------------------------------------


@login_required
def availability(request, org):
    organization, deployment = selectors.deployment_of(request.user, org)
    rows = selectors.availability_rows(tenant_availability(organization))
    return render(
        request, "topology/availability.html",
        {
            "organization": organization,
            "deployment": deployment,
            "rows": rows,
            "short": [r for r in rows if r["meets_target"] is False],
            "target": rows[0]["target_text"] if rows else None,
            "staff": is_provider_staff(request.user),
            "tab": "availability",
            "section": "deployments",
        },
    )


# --- What if ---------------------------------------------------------------------------


def _impact_scope(request, staff: bool):
    """(the tenants whose answer the user reads, the one tenant it is narrowed to).

    Provider staff read the answer of every tenant they serve, or of the one they name.
    A tenant's people, and partners, read one tenant's answer: the one they name if they
    may see it (a partner serves several), else the tenant they work for now."""
    visible = tenants_for(request.user)
    only = request.GET.get("organization", "")
    if only:
        chosen = visible.filter(slug=only) if selectors.is_slug(only) else visible.none()
        focus = chosen.first()
        if staff or focus is not None:
            return chosen, focus
    if not staff:
        tenant = request.tenant
        return Organization.objects.filter(pk=tenant.pk), tenant
    return visible, None


@login_required
def impact(request):
    staff = is_provider_staff(request.user)
    form = forms.ImpactQueryForm(
        request.GET if "target" in request.GET else None,
        targets=selectors.impact_targets(), failure_types=selectors.failure_types(),
    )
    scope, focus = _impact_scope(request, staff)
    narrowed = staff and bool(request.GET.get("organization"))
    own_deployment = None
    if focus is not None and focus.kind == OrganizationKind.CUSTOMER:
        own_deployment = selectors.deployment_of(request.user, focus.slug)[1]
    result = None
    if form.is_bound and form.is_valid():
        try:
            result = impact_of(
                target=form.cleaned_data["target"],
                failure=form.cleaned_data["failure"] or None,
                organizations=scope,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
    # The tenant the answer is narrowed to stays chosen from one question to the next.
    keep = focus.slug if focus is not None and (narrowed or not staff) else ""
    link = reverse("topology-impact") + "?target={id}"
    if keep:
        link += f"&organization={keep}"
    marks = _own_marks(own_deployment, show_counts=staff, link=link)
    context = {
        "form": form, "result": result, "staff": staff, "focus": focus,
        "narrowed": narrowed, "keep": keep, "own_deployment": own_deployment,
        "legend_own": (
            "" if own_deployment is None
            else f"Where {focus.name} runs" if staff else "Your deployment"
        ),
        "organization": focus, "section": "impact", "tab": "impact",
    }
    geographies = selectors.platform_layout()
    if result is None:
        context["maps"] = topology_svgs(geographies, title="Choose what fails", marks=marks)
        return render(request, "topology/impact.html", context)
    tenants = result["tenants"]
    marks.failed = result["target"]
    marks.affected_regions = dict(selectors.count_by(t["primary_region"] for t in tenants))
    if result["element"] == FailedElement.POP and tenants:
        marks.affected_pops = {result["target"]: len(tenants)}
    failure_names = {t["id"]: t["name"] for t in result["failure_types"]}
    page = Paginator(tenants, TENANTS_PER_PAGE).get_page(request.GET.get("page"))
    region_names = {r.slug: r.name for g in geographies for r in g.regions}
    page.object_list = [
        selectors.tenant_impact_view(t, failure_names, region_names) for t in page.object_list
    ]
    context.update(
        maps=topology_svgs(
            geographies, title=f"What if {result['target_name']} fails", marks=marks,
        ),
        element_label=FailedElement(result["element"]).label,
        totals=selectors.impact_totals(result["summary"]),
        page=page,
        not_affected=_not_affected_page(request, result["not_affected"]),
        query=_query_without(request, "page"),
        not_affected_query=_query_without(request, "npage"),
    )
    return render(request, "topology/impact.html", context)


def _not_affected_page(request, slugs: list[str]):
    page = Paginator(slugs, NOT_AFFECTED_PER_PAGE).get_page(request.GET.get("npage"))
    page.names = selectors.organization_names(page.object_list)
    return page


def _query_without(request, name: str) -> str:
    query = request.GET.copy()
    query.pop(name, None)
    encoded = query.urlencode()
    return f"{encoded}&" if encoded else ""
