"""The base of every long-running job (a document rendered, a batch of orders shipped, a file imported).

A job is a row a worker moves through its statuses, declared with ``shopops.transitions.declare`` next to the
model and moved only through ``transition`` / ``transition_where``. What every job has is here: when it was asked
for, last sent to the workers, started and finished, and why it failed as a whole. Each job keeps its own
``status`` (its statuses differ), its own progress counters and its own name for who asked for it
(``Document.requested_by``, ``created_by`` elsewhere): the API shows them under those names.
"""

from django.db import models
from django.utils import timezone

#: How much of a failure a job keeps (``error``).
JOB_ERROR_MAX_LENGTH = 500


class Job(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(
        default=timezone.now, help_text="When the job was last sent to the workers (shopops/dispatch.py)."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=JOB_ERROR_MAX_LENGTH, blank=True)

    class Meta:
        abstract = True

    @staticmethod
    def error_text(text: str) -> str:
        """``text`` cut to what ``error`` holds."""
        return text[:JOB_ERROR_MAX_LENGTH]
