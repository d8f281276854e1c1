"""Absolute links to ShopOps's own pages in what leaves the site: customers' tracking links, team invitations,
document links in webhooks, the delivery log in alert emails.

They point at ``SHOPOPS_PUBLIC_URL``, the address people reach ShopOps at; settings refuse to start without it
when ``DJANGO_DEBUG`` is off. In development, without it, a link follows the address the site is browsed at: the
request being served, else (a Celery task, a management command) the last request the site served, else
``http://127.0.0.1:8000``.
"""

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

#: The cache key of the address (``scheme://host:port``) of the last request served in development without
#: SHOPOPS_PUBLIC_URL, written by LastRequestAddressMiddleware for the links built without a request. With the
#: cache in process memory (no CACHE_URL) only the web process itself reads it; a separate worker needs CACHE_URL.
LAST_REQUEST_KEY = "shopops:public-urls:last-request"
#: Where `make run` serves: the address of links built in development before any request.
DEVELOPMENT_ADDRESS = "http://127.0.0.1:8000"


def public_url(path: str, request=None) -> str:
    """The absolute link to ``path`` (``/track/...``, with its query string if any) on the site's address."""
    if not path.startswith("/"):
        raise ValueError(f"A path on the site starts with '/': {path!r}")
    return site_address(request) + path


def site_address(request=None) -> str:
    """``scheme://host[:port]``, no trailing slash: SHOPOPS_PUBLIC_URL, or in development the address of
    ``request``, of the last request served, or DEVELOPMENT_ADDRESS."""
    configured = settings.SHOPOPS_PUBLIC_URL
    if configured:
        return configured.rstrip("/")
    if not settings.DEBUG:
        raise ImproperlyConfigured("SHOPOPS_PUBLIC_URL must be set when DJANGO_DEBUG is off.")
    if request is not None:
        return request_address(request)
    return cache.get(LAST_REQUEST_KEY) or DEVELOPMENT_ADDRESS


def request_address(request) -> str:
    """The scheme, host and port ``request`` was made to (the host checked against ALLOWED_HOSTS)."""
    return f"{request.scheme}://{request.get_host()}"


class LastRequestAddressMiddleware:
    """In development without SHOPOPS_PUBLIC_URL, remembers the address of each request (LAST_REQUEST_KEY) for the
    links built without one. After CommonMiddleware, which has refused hosts ALLOWED_HOSTS does not name."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.DEBUG and not settings.SHOPOPS_PUBLIC_URL:
            address = request_address(request)
            if cache.get(LAST_REQUEST_KEY) != address:
                cache.set(LAST_REQUEST_KEY, address, timeout=None)
        return self.get_response(request)
