"""The offline courier: AWBs from the merchant's AWB pools, a generated pickup token, tracking entered by hand or
uploaded as CSV (nothing to poll)."""

from shipping.adapters.base import COMMON_CODES, CourierAdapter


class OfflineAdapter(CourierAdapter):
    name = "offline"
    status_codes = COMMON_CODES
