"""Courier adapters, one module per courier service; ``base`` holds the interface (see its docstring).

``ADAPTERS`` maps the name stored on ``Courier.adapter`` (and, for the services reached through a courier account,
on ``CourierAccount.service``) to its class.
"""

from shipping.adapters.base import (
    COMMON_CODES,
    ROUTING_CODE_MAX_LENGTH,
    Booking,
    CourierAdapter,
    LiveQuote,
    Parcel,
    TrackingUpdate,
    WebhookRefused,
    booking_reference,
)
from shipping.adapters.delhivery import DelhiveryAdapter
from shipping.adapters.easypost import EasyPostAdapter
from shipping.adapters.offline import OfflineAdapter
from shipping.adapters.shiprocket import ShiprocketAdapter
from shipping.adapters.simulated import (
    SIM_NDR_TIMEOUT,
    SIM_PICKUP_HOUR,
    SimulatedAdapter,
    simulated_failures,
    simulated_routing_code,
)

__all__ = [
    "ADAPTERS", "COMMON_CODES", "ROUTING_CODE_MAX_LENGTH", "SIM_NDR_TIMEOUT", "SIM_PICKUP_HOUR", "Booking",
    "CourierAdapter", "LiveQuote", "OfflineAdapter", "Parcel", "SimulatedAdapter", "TrackingUpdate",
    "WebhookRefused", "adapter_for", "booking_reference", "adapter_for_account", "code_known", "simulated_failures",
    "simulated_routing_code", "status_for",
]  # fmt: skip

ADAPTERS: dict[str, type[CourierAdapter]] = {OfflineAdapter.name: OfflineAdapter,
                                              SimulatedAdapter.name: SimulatedAdapter,
                                              DelhiveryAdapter.name: DelhiveryAdapter,
                                              EasyPostAdapter.name: EasyPostAdapter,
                                              ShiprocketAdapter.name: ShiprocketAdapter}  # fmt: skip


def adapter_for(courier) -> CourierAdapter:
    return ADAPTERS.get(courier.adapter, OfflineAdapter)()


def adapter_for_account(account) -> CourierAdapter:
    """The adapter of a courier account's service."""
    return ADAPTERS[account.service]()


def _tables(courier, code: str) -> tuple[dict, dict, str]:
    own = {str(k).strip().lower(): v for k, v in (courier.status_codes or {}).items()}
    return own, adapter_for(courier).status_codes, code.strip().lower()


def status_for(courier, code: str) -> str | None:
    """The ShopOps status a courier code means (None: informational, e.g. "bagged", or unknown)."""
    own, codes, key = _tables(courier, code)
    return own.get(key) or codes.get(key) or None


def code_known(courier, code: str) -> bool:
    """Whether the code is in the courier's or its adapter's status table (mapped to a status, or to "" for an
    informational scan); an unknown code is kept on its event and flagged."""
    own, codes, key = _tables(courier, code)
    return key in own or key in codes
