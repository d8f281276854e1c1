"""Sales channels: created with a public ``channel_id`` that never changes; the default API channel; a store's
channel connected (credentials kept encrypted, its pickup location and payment mapping), paused and resumed."""

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from catalog.models import Location
from orders.errors import CHANNEL_IN_USE, DUPLICATE_CHANNEL
from orders.models import Channel, ChannelKind, ChannelWebhookDelivery, ConnectionStatus, PaymentMethod
from shopops.crypto import merge_credentials
from shopops.dispatch import send_on_commit
from shopops.models import Merchant

#: Each store kind's credentials (name -> required), stored encrypted and never shown again. None is required: a
#: channel may only receive webhooks (its secret) or only be pulled from (its API credentials).
CREDENTIAL_FIELDS: dict[str, dict[str, bool]] = {
    ChannelKind.SHOPIFY: {"access_token": False, "webhook_secret": False, "previous_webhook_secret": False},
    ChannelKind.WOOCOMMERCE: {"consumer_key": False, "consumer_secret": False, "webhook_secret": False,
                              "previous_webhook_secret": False},
    ChannelKind.MAGENTO: {"access_token": False},
    ChannelKind.AMAZON: {"client_id": False, "client_secret": False, "refresh_token": False},
}  # fmt: skip
#: What a channel's connection is made of besides its credentials.
CONNECTION_FIELDS = ("store_url", "marketplace_id", "pickup_location", "payment_mapping", "options")
#: Each store kind's write-back settings (not secret): name -> allowed values (None: any text).
OPTION_FIELDS: dict[str, dict[str, tuple[str, ...] | None]] = {
    ChannelKind.SHOPIFY: {"location_id": None},
    ChannelKind.WOOCOMMERCE: {"shipped_status": ("completed", "processing")},
    ChannelKind.MAGENTO: {"source_code": None},
    ChannelKind.AMAZON: {"seller_id": None},
}


def channel_create(*, merchant: Merchant, name: str, kind: str = ChannelKind.CUSTOM, is_active: bool = True,
                   is_default_api: bool = False, **connection: Any) -> Channel:  # fmt: skip
    """A channel; for a store, ``connection`` may hold credentials, store_url, marketplace_id, pickup_location (id
    or nickname) and payment_mapping."""
    channel = Channel(merchant=merchant, name=name, kind=kind, is_active=is_active, channel_id=_new_channel_id())
    _connect(channel, connection)
    channel.full_clean(exclude=["channel_id", "credentials", "webhook_id"], validate_constraints=False)
    if Channel.objects.filter(merchant=merchant, name=name).exists():
        raise DUPLICATE_CHANNEL(f"A channel named {name!r} already exists.", {"name": name})
    with transaction.atomic():
        if is_default_api:
            Channel.objects.filter(merchant=merchant, is_default_api=True).update(is_default_api=False)
            channel.is_default_api = True
        channel.save()
    return channel


def channel_get_or_create(*, merchant: Merchant, name: str, kind: str = ChannelKind.CUSTOM) -> tuple[Channel, bool]:
    """The merchant's channel named ``name``, created (active, of ``kind``) when it has none: (channel, created).

    Safe against a concurrent creation of the same name (another import naming the same channel): the unique
    (merchant, name) constraint decides, and the loser reads the winner's channel."""
    channel = Channel.objects.filter(merchant=merchant, name=name).first()
    if channel is not None:
        return channel, False
    try:
        with transaction.atomic():
            return Channel.objects.create(merchant=merchant, name=name, kind=kind, channel_id=_new_channel_id()), True
    except IntegrityError:  # created concurrently
        return Channel.objects.get(merchant=merchant, name=name), False


def channel_update(*, channel: Channel, data: dict[str, Any]) -> Channel:
    for name in ("name", "kind", "is_active"):
        if name in data:
            setattr(channel, name, data[name])
    _connect(channel, data)
    channel.full_clean(exclude=["credentials"], validate_constraints=False, validate_unique=False)
    if Channel.objects.filter(merchant_id=channel.merchant_id, name=channel.name).exclude(pk=channel.pk).exists():
        raise DUPLICATE_CHANNEL(f"A channel named {channel.name!r} already exists.", {"name": channel.name})
    channel.save()
    return channel


def _connect(channel: Channel, data: dict[str, Any]) -> None:
    """Apply the connection's fields of ``data``; new credentials start the connection afresh (not checked)."""
    given = data.get("credentials")
    if given:
        if channel.kind not in CREDENTIAL_FIELDS:
            raise ValidationError({"credentials": [f"A {channel.kind} channel has no credentials; "
                                                   f"stores have ({', '.join(CREDENTIAL_FIELDS)})."]})  # fmt: skip
        merged = merge_credentials(CREDENTIAL_FIELDS[channel.kind], given, channel.credentials, kind=channel.kind)
        if merged != channel.credentials:
            channel.credentials = merged
            if channel.connection_status != ConnectionStatus.PAUSED:
                channel.connection_status = ConnectionStatus.UNVERIFIED
            channel.status_message, channel.failing_since = "", None
    for name in ("store_url", "marketplace_id"):
        if name in data:
            setattr(channel, name, (data[name] or "").strip())
    if "pickup_location" in data:
        channel.pickup_location = _location(channel.merchant_id, data["pickup_location"])
    if "payment_mapping" in data:
        channel.payment_mapping = _payment_mapping(data["payment_mapping"])
    if "options" in data:
        channel.options = _options(channel.kind, data["options"], channel.options)


def _options(kind: str, given, stored: dict) -> dict:
    """The channel's options after ``given`` (merged; a blank or null value removes one)."""
    if given in (None, ""):
        return dict(stored)
    allowed = OPTION_FIELDS.get(kind, {})
    if not isinstance(given, dict):
        raise ValidationError({"options": [f"An object; {kind} takes {', '.join(allowed) or 'none'}."]})
    errors = {}
    for name, value in given.items():
        if name not in allowed:
            errors[f"options.{name}"] = [f"Not a {kind} option; these are: {', '.join(allowed) or 'none'}."]
        elif value not in (None, "") and (not isinstance(value, str) or len(value) > 100 or (
                allowed[name] is not None and value not in allowed[name])):  # fmt: skip
            choices = f"one of {', '.join(allowed[name])}" if allowed[name] else "text of at most 100 characters"
            errors[f"options.{name}"] = [f"Must be {choices}."]
    if errors:
        raise ValidationError(errors)
    merged = {**stored, **given}
    return {name: value.strip() for name, value in merged.items() if isinstance(value, str) and value.strip()}


def _location(merchant_id: int, ref) -> Location | None:
    if ref in (None, ""):
        return None
    ref = str(ref)
    locations = Location.objects.filter(merchant_id=merchant_id, is_active=True)
    location = (locations.filter(pk=int(ref)) if ref.isdigit() else locations.filter(nickname=ref)).first()
    if location is None:
        raise ValidationError({"pickup_location": [f"Unknown pickup location {ref!r}."]})
    return location


def _payment_mapping(mapping) -> dict[str, str]:
    if mapping in (None, ""):
        return {}
    if not isinstance(mapping, dict):
        raise ValidationError({"payment_mapping": ["An object of payment names to prepaid or cod."]})
    errors = [name for name, value in mapping.items()
              if not str(name).strip() or len(str(name)) > 100 or value not in PaymentMethod.values]  # fmt: skip
    if errors or len(mapping) > 50:
        raise ValidationError(
            {
                "payment_mapping": [
                    f"At most 50 payment names (1 to 100 characters), each mapped to prepaid or cod; not {errors[:5]}."
                ]
            }
        )
    return {str(name).strip(): value for name, value in mapping.items()}


def channel_pause(*, channel: Channel) -> Channel:
    """Stop taking the channel's orders in: its webhooks are still stored (the channel is answered), and wait."""
    Channel.objects.filter(pk=channel.pk).update(connection_status=ConnectionStatus.PAUSED)
    channel.refresh_from_db()
    return channel


def channel_resume(*, channel: Channel) -> Channel:
    """Take the channel's orders in again, starting with the webhooks stored while it was paused."""
    with transaction.atomic():
        locked = Channel.objects.select_for_update().get(pk=channel.pk)
        if locked.connection_status == ConnectionStatus.PAUSED:
            locked.connection_status = ConnectionStatus.UNVERIFIED if locked.credentials else (
                ConnectionStatus.NOT_CONNECTED)  # fmt: skip
            locked.save(update_fields=["connection_status", "updated_at"])
        waiting = ChannelWebhookDelivery.objects.filter(channel=locked, status=ChannelWebhookDelivery.Status.PENDING)
        for pk in waiting.order_by("id").values_list("pk", flat=True):
            send_on_commit("orders.tasks.channel_webhook_process", pk)
    return locked


def channel_delete(*, channel: Channel) -> None:
    """Delete a channel that has no orders (``channel_in_use`` otherwise: deactivate it instead)."""
    try:
        with transaction.atomic():
            channel.delete()
    except ProtectedError as exc:
        raise CHANNEL_IN_USE("The channel has orders; deactivate it instead.") from exc


def _new_channel_id() -> str:
    return f"ch_{secrets.token_hex(8)}"


def default_api_channel(merchant: Merchant) -> Channel:
    """The channel of API orders that name none; created on first use."""
    channel = Channel.objects.filter(merchant=merchant, is_default_api=True).first()
    if channel is not None:
        return channel
    try:
        with transaction.atomic():
            return Channel.objects.create(merchant=merchant, name="API", kind=ChannelKind.API, is_default_api=True,
                                          channel_id=_new_channel_id())  # fmt: skip
    except IntegrityError:  # created concurrently
        return Channel.objects.get(merchant=merchant, is_default_api=True)
