from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TopologyConfig(AppConfig):
    name = "caredeck.topology"
    label = "topology"
    verbose_name = "Topology and failure modes"

    def ready(self) -> None:
        from caredeck.topology import audited  # noqa: F401  (registers audited kinds)
        from caredeck.topology.catalog import load_reference_catalog_if_empty

        # A fresh install (and the test database) starts from the reference catalog.
        post_migrate.connect(
            load_reference_catalog_if_empty,
            sender=self,
            dispatch_uid="caredeck.topology.reference_catalog",
        )
