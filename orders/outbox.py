"""What the order services put in the webhook outbox: order.created, order.updated, order.cancelled and
import.finished, with compact payloads (GET /orders/{id}/ has the whole order)."""

from orders.models import BulkImport, Order, OrderStatus
from shopops.webhooks.payloads import iso, money
from shopops.webhooks.services import outbox_emit

ORDER_TIMES = ("ordered_at", "confirmed_at", "packed_at", "shipped_at", "delivered_at", "cancelled_at", "created_at",
               "updated_at")  # fmt: skip


def order_payload(order: Order) -> dict:
    return {
        "id": order.pk, "number": order.number, "channel": order.channel.channel_id,
        "channel_order_id": order.channel_order_id, "status": order.status, "payment_method": order.payment_method,
        "payment_status": order.payment_status, "total": money(order.total), "currency": order.currency,
        "pickup_location": order.pickup_location_id, "awb": order.awb, "courier": order.courier,
        "cancel_reason": order.cancel_reason, **{name: iso(getattr(order, name)) for name in ORDER_TIMES},
    }  # fmt: skip


def order_emit(order: Order, *, created: bool = False, previous_status: str = "", changed: list[str] = ()) -> None:
    """order.created, order.cancelled (a move to cancelled) or order.updated, in the caller's transaction."""
    if created:
        event = "order.created"
    elif order.status == OrderStatus.CANCELLED and previous_status and previous_status != OrderStatus.CANCELLED:
        event = "order.cancelled"
    else:
        event = "order.updated"

    def data() -> dict:
        extra = {"previous_status": previous_status} if previous_status else {}
        return {"order": order_payload(order), **extra, **({"changed": list(changed)} if changed else {})}

    outbox_emit(merchant_id=order.merchant_id, type=event, object_key=f"order:{order.pk}", data=data)


def import_emit(job: BulkImport) -> None:
    """import.finished: the job ended (done, partially_failed or failed), with its counts."""

    def data() -> dict:
        return {"import": {
            "id": job.pk, "kind": job.kind, "status": job.status, "file_name": job.file_name, "dry_run": job.dry_run,
            "error_policy": job.error_policy, "preset": job.preset, "create_channels": job.create_channels,
            "created_channels": job.created_channels, "total_rows": job.total_rows,
            "processed_rows": job.processed_rows, "created_count": job.created_count,
            "updated_count": job.updated_count,
            "skipped_count": job.skipped_count, "failed_count": job.failed_count, "error": job.error,
            "started_at": iso(job.started_at), "finished_at": iso(job.finished_at),
        }}  # fmt: skip

    outbox_emit(merchant_id=job.merchant_id, type="import.finished", object_key=f"import:{job.pk}", data=data)
