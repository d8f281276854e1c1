"""Every status moves through the one transition helper (shopops/transitions.py)."""

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings

from shopops.transitions import NOT_A_LIFECYCLE, TABLES

APPS = ("shopops", "catalog", "orders", "shipping", "marketing")
ROOT = Path(settings.BASE_DIR)
STATUS_FIELDS = ("status", "payment_status")

# Modules still writing a status by hand, and models without a table, while they move to the helper; each is
# removed as it moves.
PENDING: set[str] = set()
PENDING_MODELS: set[tuple[str, str, str]] = set()


def _status_models():
    for model in apps.get_models():
        if model._meta.app_label in APPS:
            for name in STATUS_FIELDS:
                try:
                    field = model._meta.get_field(name)
                except Exception:
                    continue
                if field.choices:
                    yield model, name


@pytest.mark.parametrize("model,name", list(_status_models()), ids=lambda v: getattr(v, "__name__", v))
def test_every_status_field_has_a_declared_table(model, name):
    if (model._meta.app_label, model.__name__, name) in PENDING_MODELS:
        assert (model, name) not in TABLES, "declared: drop it from PENDING_MODELS"
        return
    table = TABLES.get((model, name))
    assert table is not None or (model, name) in NOT_A_LIFECYCLE, (
        f"{model.__name__}.{name} has no state table: declare one with shopops.transitions.declare"
    )
    if table is not None:
        choices = {value for value, _ in model._meta.get_field(name).choices}
        assert set(table.moves) == choices


def _status_writes(path: Path) -> list[str]:
    """``x.status = ...``, ``setattr(x, "status", ...)``, ``.update(status=...)`` and ``.update(**changes)`` with
    ``changes = {"status": ...}`` in a module."""
    tree = ast.parse(path.read_text(), str(path))
    where = path.relative_to(ROOT)
    found, spread = [], set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                elements = target.elts if isinstance(target, ast.Tuple) else [target]
                if any(isinstance(e, ast.Attribute) and e.attr in STATUS_FIELDS for e in elements):
                    found.append(f"{where}:{node.lineno}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "setattr" and len(node.args) > 1:
                name = node.args[1]
                if isinstance(name, ast.Constant) and name.value in STATUS_FIELDS:
                    found.append(f"{where}:{node.lineno}")
            if isinstance(func, ast.Attribute) and func.attr in ("update", "bulk_update"):
                keywords = {k.arg for k in node.keywords}
                spread |= {k.value.id for k in node.keywords if k.arg is None and isinstance(k.value, ast.Name)}
                fields = [a for a in node.args if isinstance(a, (ast.List, ast.Tuple))]
                listed = {e.value for f in fields for e in f.elts if isinstance(e, ast.Constant)}
                if keywords & set(STATUS_FIELDS) or listed & set(STATUS_FIELDS):
                    found.append(f"{where}:{node.lineno}")
    for node in ast.walk(tree):  # changes = {"status": ...}; ....update(**changes)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            names = {t.id for t in node.targets if isinstance(t, ast.Name)}
            keys = {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
            if names & spread and keys & set(STATUS_FIELDS):
                found.append(f"{where}:{node.lineno}")
    return found


def _modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts or relative.as_posix() == "shopops/transitions.py":
                continue
            yield path


def test_no_status_is_written_outside_the_transition_helper():
    writes = [w for path in _modules() for w in _status_writes(path)
              if path.relative_to(ROOT).as_posix() not in PENDING]  # fmt: skip
    assert writes == []


def test_the_pending_list_holds_only_modules_that_still_write_statuses():
    still = {path.relative_to(ROOT).as_posix() for path in _modules() if _status_writes(path)}
    assert set(PENDING) <= still, f"Moved to the helper, drop from PENDING: {sorted(set(PENDING) - still)}"
