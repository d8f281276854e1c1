from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"

    def ready(self) -> None:
        # The services send tasks by name (shopops/dispatch.py): register them in every process.
        from orders import tasks  # noqa: F401
