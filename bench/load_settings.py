"""Settings of the load benchmark's gunicorn: the production settings (``shopops.settings``, configured by the same
environment variables), with a URL conf that adds the bare view measured as the floor. Never used by ShopOps itself."""

from shopops.settings import *  # noqa: F403

ROOT_URLCONF = "bench.load_urls"
