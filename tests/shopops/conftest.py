from tests.shopops.webhooks import dns, receiver  # noqa: F401  (fixtures of the webhook tests)
