from celery import shared_task
from django.core.management import call_command

from shopops import services


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540)
def idempotency_keys_prune() -> int:
    """Delete Idempotency-Key records older than 24 hours (Celery beat, hourly)."""
    return services.idempotency_keys_prune()


@shared_task(acks_late=True, time_limit=600, soft_time_limit=540)
def oauth2_tokens_clear_expired() -> None:
    """Delete expired OAuth2 tokens and grants (Celery beat, every 6 hours)."""
    call_command("cleartokens")
