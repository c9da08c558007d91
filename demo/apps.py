from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data (``seed_demo``) and the demo's live HLS playlist; no models, nothing
    imports it. The top layer: it may use every other app."""

    name = "demo"
    verbose_name = "Demo"
