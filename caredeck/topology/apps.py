from django.apps import AppConfig


class TopologyConfig(AppConfig):
    name = "caredeck.topology"
    label = "topology"
    verbose_name = "Topology and failure modes"
