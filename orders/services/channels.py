"""Sales channels: created with a public ``channel_id`` that never changes; the default API channel."""

import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from orders.errors import CHANNEL_IN_USE, DUPLICATE_CHANNEL
from orders.models import Channel, ChannelKind
from shopops.models import Merchant


def channel_create(*, merchant: Merchant, name: str, kind: str = ChannelKind.CUSTOM, is_active: bool = True,
                   is_default_api: bool = False) -> Channel:  # fmt: skip
    channel = Channel(merchant=merchant, name=name, kind=kind, is_active=is_active, channel_id=_new_channel_id())
    channel.full_clean(exclude=["channel_id"], validate_constraints=False)
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
    channel.full_clean(validate_constraints=False, validate_unique=False)
    if Channel.objects.filter(merchant_id=channel.merchant_id, name=channel.name).exclude(pk=channel.pk).exists():
        raise DUPLICATE_CHANNEL(f"A channel named {channel.name!r} already exists.", {"name": channel.name})
    channel.save()
    return channel


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
