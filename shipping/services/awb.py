"""AWB numbers: the pools a courier allots (ranges and uploaded lists) and taking the next number."""

import logging
import re

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from shipping.errors import AWB_POOL_EXHAUSTED, AWB_POOL_OVERLAP, DUPLICATE_AWB_POOL
from shipping.models import AWBNumber, AWBPool, AWBPoolKind, Courier, Shipment
from shopops.bulk import insert_rows

logger = logging.getLogger(__name__)


def awb_allocate(*, courier: Courier) -> str:
    """The next number of the courier's active pools (oldest pool first), inside the caller's transaction.

    A range pool hands out numbers with one ``UPDATE ... RETURNING`` (the row lock orders concurrent callers);
    a list pool takes its first free number with ``FOR UPDATE SKIP LOCKED``. Refused: ``awb_pool_exhausted``."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("awb_allocate must run inside the transaction that uses the number")
    for pool in AWBPool.objects.filter(courier=courier, is_active=True).order_by("id"):
        while (awb := _take_from_range(pool) if pool.kind == AWBPoolKind.RANGE else _take_from_list(pool)) is not None:
            if not Shipment.objects.filter(courier=courier, awb=awb).exists():
                _warn_if_low(pool)
                return awb
            # Two pools of the courier overlap (e.g. prefix "A" from 10 and prefix "A1" from 0): the number is
            # already a shipment's; it stays spent and the next one is taken.
            logger.warning("AWB %s of pool %s is already used by a shipment of %s; skipped", awb, pool.name,
                           courier.code)  # fmt: skip
    raise AWB_POOL_EXHAUSTED(f"No AWB numbers left for {courier.name}; add a pool or a list of numbers.",
                             {"courier": courier.code})  # fmt: skip


def _take_from_range(pool: AWBPool) -> str | None:
    table = connection.ops.quote_name(AWBPool._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_number = next_number + 1 WHERE id = %s AND next_number <= range_end "
            "RETURNING next_number - 1",
            [pool.pk],
        )
        row = cursor.fetchone()
    return None if row is None else f"{pool.prefix}{row[0]:0{pool.width}d}"


def _take_from_list(pool: AWBPool) -> str | None:
    number = (AWBNumber.objects.select_for_update(skip_locked=True).filter(pool=pool, used_at__isnull=True)
              .order_by("id").first())  # fmt: skip
    if number is None:
        return None
    AWBNumber.objects.filter(pk=number.pk).update(used_at=timezone.now())
    return number.awb


def awb_pool_remaining(pool: AWBPool) -> int:
    if pool.kind == AWBPoolKind.RANGE:
        return max(0, pool.range_end - pool.next_number + 1)
    return pool.numbers.filter(used_at__isnull=True).count()


def _warn_if_low(pool: AWBPool) -> None:
    pool.refresh_from_db(fields=["next_number"])
    remaining = awb_pool_remaining(pool)
    if remaining < pool.low_watermark:
        logger.warning("AWB pool %s of merchant %s is running low: %s numbers left", pool.name, pool.merchant_id,
                       remaining)  # fmt: skip


def awb_pool_create_range(*, courier: Courier, name: str, start: int, end: int, prefix: str = "", width: int = 0,
                          low_watermark: int = 100) -> AWBPool:  # fmt: skip
    """A pool of the numbers ``start``..``end`` (inclusive), written as ``prefix`` + the number padded to ``width``."""
    errors = {}
    if start < 0 or end < start:
        errors["range_end"] = ["The range must run from a number >= 0 up to a number not below it."]
    if not re.fullmatch(r"[A-Za-z0-9-]{0,10}", prefix):
        errors["prefix"] = ["Up to 10 letters, digits or dashes."]
    if width > 30 or len(prefix) + max(width, len(str(end))) > 40:
        errors["width"] = ["An AWB is at most 40 characters."]
    if errors:
        raise ValidationError(errors)
    overlapping = AWBPool.objects.filter(courier=courier, kind=AWBPoolKind.RANGE, prefix=prefix,
                                         range_start__lte=end, range_end__gte=start).first()  # fmt: skip
    if overlapping is not None:
        raise AWB_POOL_OVERLAP(f"The range overlaps pool {overlapping.name!r} of this courier.",
                               {"pool": overlapping.pk})  # fmt: skip
    _check_pool_name(courier, name)
    return AWBPool.objects.create(merchant_id=courier.merchant_id, courier=courier, name=name, kind=AWBPoolKind.RANGE,
                                  prefix=prefix, width=width, range_start=start, range_end=end, next_number=start,
                                  low_watermark=low_watermark)  # fmt: skip


def _check_pool_name(courier: Courier, name: str) -> None:
    if not name.strip():
        raise ValidationError({"name": ["A pool needs a name."]})
    if AWBPool.objects.filter(merchant_id=courier.merchant_id, name=name).exists():
        raise DUPLICATE_AWB_POOL(f"A pool named {name!r} already exists.", {"name": name})


AWB = re.compile(r"^[A-Za-z0-9-]{4,40}\Z")


def awb_pool_create_list(*, courier: Courier, name: str, numbers: list[str], low_watermark: int = 100) -> AWBPool:
    """A pool of numbers the courier sent as a list. All or nothing: a malformed number, one listed twice or one
    the courier already has in a pool is refused, naming up to 100 of them."""
    cleaned = [n.strip() for n in numbers if n.strip()]
    errors = [f"{n!r} is not an AWB (4 to 40 letters, digits or dashes)" for n in cleaned if not AWB.match(n)]
    seen, repeated = set(), set()
    for n in cleaned:
        (repeated if n in seen else seen).add(n)
    errors += [f"{n} is listed twice" for n in sorted(repeated)]
    known = set(AWBNumber.objects.filter(courier=courier, awb__in=seen).values_list("awb", flat=True))
    known |= set(Shipment.objects.filter(courier=courier, awb__in=seen).values_list("awb", flat=True))
    errors += [f"{n} is already in a pool or used" for n in sorted(known)]
    if not cleaned:
        errors.append("The list is empty.")
    if errors:
        raise ValidationError({"numbers": errors[:100]})
    _check_pool_name(courier, name)
    with transaction.atomic():
        pool = AWBPool.objects.create(merchant_id=courier.merchant_id, courier=courier, name=name,
                                      kind=AWBPoolKind.LIST, low_watermark=low_watermark)  # fmt: skip
        insert_rows(AWBNumber, [{"merchant_id": courier.merchant_id, "pool_id": pool.pk, "courier_id": courier.pk,
                                 "awb": n, "used_at": None} for n in cleaned])  # fmt: skip
    return pool


def awb_pool_set_active(*, pool: AWBPool, is_active: bool) -> AWBPool:
    AWBPool.objects.filter(pk=pool.pk).update(is_active=is_active)
    pool.is_active = is_active
    return pool


def awb_pool_set_low_watermark(*, pool: AWBPool, low_watermark: int) -> AWBPool:
    """Warn when fewer numbers than ``low_watermark`` remain in the pool."""
    AWBPool.objects.filter(pk=pool.pk).update(low_watermark=low_watermark)
    pool.low_watermark = low_watermark
    return pool
