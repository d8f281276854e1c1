"""Where a webhook may be sent: no private, loopback, link-local, multicast, reserved or unspecified address.

Checked when an endpoint is registered and again before every attempt (a name can resolve elsewhere later);
the request then goes to the address that was checked, so a second DNS answer cannot redirect it.
``WEBHOOKS_ALLOW_PRIVATE_URLS`` lifts the address check and allows http:// (local development and tests);
``DEBUG`` allows http:// too.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(ValueError):
    """The URL may not receive webhooks; the message says why."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``address``) and what to ask for there."""

    url: str
    scheme: str
    host: str
    port: int
    address: str
    path: str  # with the query string

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def connect_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        address = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{address}:{self.port}{self.path}"


def allow_private() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_URLS", False))


def address_problem(address: IPAddress) -> str | None:
    """Why ``address`` may not receive webhooks, or None when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for attribute, what in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(address, attribute):
            return what
    if not address.is_global:  # shared address space (100.64.0.0/10) and the other special ranges
        return "not public"
    return None


def parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of a webhook URL, or UnsafeURL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"Not a valid URL: {exc}.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeURL("Use an https:// URL.")
    if scheme == "http" and not (settings.DEBUG or allow_private()):
        raise UnsafeURL("Use an https:// URL: plain http is allowed only in development.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("Credentials in the URL are not allowed: requests are signed instead.")
    if not parts.hostname:
        raise UnsafeURL("The URL has no host.")
    if parts.fragment:
        raise UnsafeURL("The URL may not have a #fragment.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80), path


def resolve(url: str) -> Target:
    """Check ``url`` and resolve its host to the address to connect to (UnsafeURL when it may not be used)."""
    scheme, host, port, path = parse(url)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise UnsafeURL(f"The host {host} could not be resolved.") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))
        if not addresses:
            raise UnsafeURL(f"The host {host} could not be resolved.")
    if not allow_private():
        for address in addresses:
            problem = address_problem(address)
            if problem:
                where = f"{host} resolves to" if literal is None else "The URL names"
                raise UnsafeURL(f"{where} {address} ({problem} address): webhooks go to public addresses only.")
    return Target(url=url, scheme=scheme, host=host, port=port, address=str(addresses[0]), path=path)
