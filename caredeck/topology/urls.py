from django.urls import path

from caredeck.topology import views

# Each kind of platform element: (URL segment, kind). The URL parameter is named after
# the kind (`<slug:region>`), so it means the same thing wherever it appears.
ELEMENTS = [
    ("geographies", "geography"),
    ("regions", "region"),
    ("zones", "zone"),
    ("pops", "pop"),
]

urlpatterns = [
    path("topology/", views.topology_map, name="topology"),
    path("topology/areas/", views.area_list, name="topology-area-list"),
    path("topology/areas/<slug:area>/", views.area_edit, name="topology-area"),
    path("topology/matrix/", views.matrix, name="topology-matrix"),
    path(
        "topology/matrix/<slug:failure>/<slug:area>/",
        views.matrix_cell,
        name="topology-matrix-cell",
    ),
    path("topology/catalog/", views.catalog, name="topology-catalog"),
    path("topology/catalog/export.yaml", views.catalog_export, name="topology-catalog-export"),
    path("topology/impact/", views.impact, name="topology-impact"),
    path("topology/deployments/", views.deployment_list, name="topology-deployment-list"),
    path(
        "topology/deployments/<slug:org>/",
        views.deployment_detail,
        name="topology-deployment",
    ),
    path(
        "topology/deployments/<slug:org>/edit/",
        views.deployment_edit,
        name="topology-deployment-edit",
    ),
    path(
        "topology/deployments/<slug:org>/availability/",
        views.availability,
        name="topology-availability",
    ),
    path("platform/", views.platform, name="platform"),
]

for segment, kind in ELEMENTS:
    urlpatterns += [
        path(
            f"topology/{segment}/new/",
            views.element_create,
            {"kind": kind},
            name=f"topology-{kind}-create",
        ),
        path(
            f"topology/{segment}/<slug:{kind}>/",
            views.element_edit,
            {"kind": kind},
            name=f"topology-{kind}",
        ),
        path(
            f"topology/{segment}/<slug:{kind}>/delete/",
            views.element_delete,
            {"kind": kind},
            name=f"topology-{kind}-delete",
        ),
    ]
