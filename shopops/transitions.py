"""One way to change a status: lock the row, check the declared table, do the work, stamp the time, write the
event, all in one transaction.

Every model with a ``status`` field declares its table once (``declare``), next to its model; services move
rows only through ``transition`` (one locked row) or ``transition_where`` (a conditional UPDATE, for a worker
claiming a job or a sweep). ``tests/shopops/test_transitions.py`` walks the models and fails on a status field
without a table, and reads the services for a status written any other way.
"""

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.db import models, transaction
from django.utils import timezone

from shopops.errors import DomainError, state_refusal

M = TypeVar("M", bound=models.Model)

#: What a table calls after the status changed, in the same transaction: writes the event row, emits to the
#: outbox. Called as ``record(locked, from_status=..., to_status=..., actor=..., message=..., data=...)``.
Recorder = Callable[..., None]
#: The timestamp fields to set for a move: ``stamps(locked, to_status, at) -> field names it set``.
Stamper = Callable[[Any, str, datetime], Iterable[str]]


@dataclass(frozen=True)
class StateTable:
    model: type[models.Model]
    moves: Mapping[str, frozenset[str]]
    field: str = "status"
    #: ``to_status -> timestamp field`` set on the move when it is empty (the first time wins).
    stamp_fields: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: Extra stamping rules beyond ``stamp_fields`` (e.g. "shipped_at on the first picked-up status").
    stamper: Stamper | None = None
    record: Recorder | None = None
    #: How a refusal names the row: "Order SO-000001".
    noun: Callable[[Any], str] | None = None
    #: Each status's moves in the order a refusal names them: as the table lists them (a set's sorted).
    listed: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def allows(self, from_status: str, to_status: str) -> bool:
        return to_status in self.moves.get(from_status, ())

    def sources(self, to_status: str) -> list[str]:
        """The statuses a row may move to ``to_status`` from."""
        return sorted(status for status, moves in self.moves.items() if to_status in moves)

    def refusal(self, obj, to_status: str) -> DomainError:
        current = getattr(obj, self.field)
        noun = self.noun(obj) if self.noun else f"{self.model._meta.verbose_name.capitalize()} {obj.pk}"
        allowed = self.listed.get(current) or sorted(self.moves.get(current, ()))
        labels = dict(self.model._meta.get_field(self.field).choices or ())
        return state_refusal(noun=noun, status=current, to_status=to_status, allowed=allowed, labels=labels)


#: Every declared table by (model, status field).
TABLES: dict[tuple[type[models.Model], str], StateTable] = {}
#: Status fields that are not a lifecycle (a copy of another row's status, say), with the reason.
NOT_A_LIFECYCLE: dict[tuple[type[models.Model], str], str] = {}


def declare(model: type[M], moves: Mapping[str, Iterable[str]], **options) -> StateTable:
    """Declare ``model``'s state table: ``moves`` maps every status to the statuses it may move to (a tuple or list
    is the order a refusal names them in)."""
    choices = {value for value, _ in model._meta.get_field(options.get("field", "status")).choices}
    listed = {status: tuple(to) if isinstance(to, (tuple, list)) else tuple(sorted(to)) for status, to in moves.items()}
    table = StateTable(model=model, moves={status: frozenset(to) for status, to in listed.items()}, listed=listed,
                       **options)  # fmt: skip
    named = set(table.moves) | {status for to in table.moves.values() for status in to}
    if set(table.moves) != choices or not named <= choices:
        raise ValueError(f"{model.__name__}'s state table must name each of its statuses {sorted(choices)} once.")
    TABLES[(model, table.field)] = table
    return table


def not_a_lifecycle(model: type[M], reason: str, field: str = "status") -> None:
    NOT_A_LIFECYCLE[(model, field)] = reason


def transition(table: StateTable, obj: M, to_status: str, *, actor: str = "", work: Callable[[M], None] | None = None,
               at: datetime | None = None, message: str = "", data: dict | None = None, values: dict | None = None,
               locked: bool = False) -> M:  # fmt: skip
    """Move ``obj`` to ``to_status``: lock its row (unless the caller holds the lock: ``locked=True``), check the
    table, run ``work(locked_row)``, set the status, ``values`` and the stamps, save, record the event.

    Raises the table's ``transition_not_allowed`` refusal, or whatever ``work`` raises, with nothing written.
    """
    with transaction.atomic():
        row = obj if locked else type(obj)._default_manager.select_for_update().get(pk=obj.pk)
        from_status = getattr(row, table.field)
        if not table.allows(from_status, to_status):
            raise table.refusal(row, to_status)
        if work is not None:
            work(row)
        at = at or timezone.now()
        setattr(row, table.field, to_status)
        changed = {table.field, *(values or {})}
        for name, value in (values or {}).items():
            setattr(row, name, value)
        stamp = table.stamp_fields.get(to_status)
        if stamp and getattr(row, stamp) is None:
            setattr(row, stamp, at)
            changed.add(stamp)
        if table.stamper is not None:
            changed.update(table.stamper(row, to_status, at))
        if any(f.name == "updated_at" for f in row._meta.concrete_fields):
            changed.add("updated_at")
        row.save(update_fields=sorted(changed))
        if table.record is not None:
            table.record(row, from_status=from_status, to_status=to_status, actor=actor, message=message, data=data)
    return row


def transition_where(table: StateTable, queryset: models.QuerySet, to_status: str, **values: Any) -> int:
    """Move every row of ``queryset`` that the table lets move to ``to_status`` (a conditional UPDATE: a worker
    claiming a job, a sweep). Returns how many moved; rows in another status are left as they are."""
    return queryset.filter(**{f"{table.field}__in": table.sources(to_status)}).update(
        **{table.field: to_status}, **values
    )
