from celery import shared_task
from django.core.management import call_command

from shopops import dispatch, services


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540)
def idempotency_keys_prune() -> int:
    """Delete Idempotency-Key records older than 24 hours (Celery beat, hourly)."""
    return services.idempotency_keys_prune()


@shared_task(acks_late=True, soft_time_limit=25, time_limit=30)
def jobs_requeue() -> int:
    """Every 30 seconds (Celery beat, ``JOBS_REQUEUE_EVERY``): send again the jobs no worker claimed since they were
    last sent."""
    return dispatch.jobs_requeue()


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540)
def oauth2_tokens_clear_expired() -> None:
    """Delete expired OAuth2 tokens and grants (Celery beat, every 6 hours)."""
    call_command("cleartokens")


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60, autoretry_for=services.TRANSIENT_EMAIL_ERRORS,
             retry_backoff=True, max_retries=5)  # fmt: skip
def notify_invitation(invitation_id: int) -> str:
    """Email a pending invitation a new link (queue ``notifications``); other invitations are left alone."""
    invitation = services.invitation_send(invitation_id=invitation_id)
    return invitation.status if invitation is not None else "missing"


# The webhook tasks live with the webhooks; importing them here registers them with the worker.
from shopops.webhooks.tasks import webhook_deliver, webhooks_sweep  # noqa: E402, F401
