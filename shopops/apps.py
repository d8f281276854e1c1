from django.apps import AppConfig
from django.core import checks


class ShopOpsConfig(AppConfig):
    name = "shopops"
    verbose_name = "ShopOps"

    def ready(self):
        from shopops import tasks  # noqa: F401  (the services send tasks by name: register them in every process)
        from shopops.api.checks import check_api_scopes

        # Every API view declares its scopes: `manage.py check` (and migrate, runserver, the schema) refuse to go on.
        checks.register(check_api_scopes, checks.Tags.security, checks.Tags.urls)
