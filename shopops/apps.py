from django.apps import AppConfig


class ShopOpsConfig(AppConfig):
    name = "shopops"
    verbose_name = "ShopOps"
