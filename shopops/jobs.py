"""The base of every long-running job (a document rendered, a batch of orders shipped, a file imported).

A job is a row a worker moves through its statuses, declared with ``shopops.transitions.declare`` next to the
model and moved only through ``transition`` / ``transition_where``. What every job has is here: when it was asked
for, last sent to the workers, started and finished, and why it failed as a whole. Each job keeps its own
``status`` (its statuses differ), its own progress counters and its own name for who asked for it
(``Document.requested_by``, ``created_by`` elsewhere): the API shows them under those names.
"""

from django.db import models
from django.utils import timezone

from shopops.errors import DATABASE_ERRORS

#: The options of a job's task: a database error (a restart, a failover) is retried with backoff, up to about
#: five minutes; the job's claim (``claimed_by``, the task's id, which its retries keep) lets the retry resume it.
JOB_TASK_OPTIONS = {"bind": True, "acks_late": True, "reject_on_worker_lost": True, "autoretry_for": DATABASE_ERRORS,
                    "retry_backoff": True, "retry_backoff_max": 60, "max_retries": 10}  # fmt: skip

#: How much of a failure a job keeps (``error``).
JOB_ERROR_MAX_LENGTH = 500


class Job(models.Model):
    created_at = models.DateTimeField("created", auto_now_add=True)
    queued_at = models.DateTimeField(
        "queued", default=timezone.now, help_text="When the job was last sent to the workers (shopops/dispatch.py)."
    )
    claimed_by = models.CharField(
        "claimed by",
        max_length=64,
        blank=True,
        help_text="The task that claimed the job: its own retry may take it again.",
    )
    started_at = models.DateTimeField("started", null=True, blank=True)
    finished_at = models.DateTimeField("finished", null=True, blank=True)
    error = models.CharField(
        "error", max_length=JOB_ERROR_MAX_LENGTH, blank=True, help_text="Why the job failed as a whole."
    )

    class Meta:
        abstract = True

    @staticmethod
    def error_text(text: str) -> str:
        """``text`` cut to what ``error`` holds."""
        return text[:JOB_ERROR_MAX_LENGTH]
