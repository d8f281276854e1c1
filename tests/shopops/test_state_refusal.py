"""A refused move is worded once: ``shopops.errors.state_refusal`` ("X is S; it can only become A or B, not T."); the
services raise it (directly or through a state table) and the admin reads its details."""

import ast
from pathlib import Path

from django.conf import settings

from shopops.errors import state_refusal

APPS = ("shopops", "catalog", "orders", "shipping", "marketing")
ROOT = Path(settings.BASE_DIR)
#: Modules still wording the refusal by hand while they move to state_refusal.
PENDING: set[str] = set()


def _wordings(path: Path) -> list[str]:
    """The lines of ``path`` with a string (or a piece of an f-string) saying "can only become"."""
    tree = ast.parse(path.read_text(), str(path))
    strings = [node for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    return [
        f"{path.relative_to(ROOT).as_posix()}:{node.lineno}"
        for node in strings
        if "can only become" in node.value or "can move to" in node.value
    ]


def _modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_only_state_refusal_words_a_refused_move():
    found = [w for path in _modules() for w in _wordings(path)
             if path.relative_to(ROOT).as_posix() not in PENDING]  # fmt: skip
    assert sorted({w.split(":")[0] for w in found}) == ["shopops/errors.py"]


def test_the_pending_list_holds_only_modules_that_still_word_it():
    still = {path.relative_to(ROOT).as_posix() for path in _modules() if _wordings(path)}
    assert still >= PENDING, f"Moved to state_refusal, drop from PENDING: {sorted(PENDING - still)}"


def test_the_message_is_in_words_and_the_details_in_values():
    labels = {"packed": "Packed", "shipped": "Shipped", "cancelled": "Cancelled", "new": "New",
              "rto_delivered": "RTO delivered"}  # fmt: skip
    refused = state_refusal(noun="Order SO-000001", status="packed", to_status="new", allowed=["shipped", "cancelled"],
                            labels=labels)  # fmt: skip
    final = state_refusal(noun="Order SO-000002", status="rto_delivered", to_status="new", allowed=[], labels=labels)

    assert refused.as_dict() == {
        "code": "transition_not_allowed",
        "message": "Order SO-000001 is packed; it can only become shipped or cancelled, not new.",
        "details": {"status": "packed", "allowed": ["shipped", "cancelled"], "requested": "new"},
    }
    assert final.message == "Order SO-000002 is RTO delivered and can no longer change; it cannot become new."
    assert state_refusal(noun="Document 7", status="done", to_status="rendering", allowed=[]).message == (
        "Document 7 is done and can no longer change; it cannot become rendering.")  # fmt: skip
