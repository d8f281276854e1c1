from django.apps import AppConfig


class ShippingConfig(AppConfig):
    name = "shipping"

    def ready(self) -> None:
        # The services enqueue tasks by name (shopops/dispatch.py): register them in every process.
        from shipping import tasks  # noqa: F401
        from shipping.services import credit_notes

        # Invoiced orders that are cancelled, or whose returns are received, get their credit notes.
        credit_notes.register()
