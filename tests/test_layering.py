"""The domain layer knows nothing of HTTP: services, selectors, tasks, imports and documents import neither DRF nor
the API kit (``shopops.api``). They raise domain errors (``shopops/errors.py``); the API maps them to statuses."""

import ast
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APPS = ("catalog", "orders", "shipping", "shopops")
#: A module is of the domain layer when a part of its path names one of these (``shipping/services/awb.py``,
#: ``orders/imports/write.py``, ``shipping/documents/render.py``), unless it lives in an ``api`` package.
LAYER_WORDS = ("services", "selectors", "tasks", "imports", "documents")
FORBIDDEN = ("rest_framework", "shopops.api")

# Modules of the apps still moving to domain errors that import the API layer today; each is removed as it moves
# (the test below fails when one no longer needs to be listed).
PENDING: set[str] = set()


def _domain_modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts or "api" in relative.parts[:-1]:
                continue
            if any(word in part for part in relative.parts for word in LAYER_WORDS):
                yield relative.as_posix(), path


def _http_imports(path: Path) -> list[str]:
    """The modules of DRF or of the API kit that ``path`` imports, at any depth (a function-level import too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from shopops import api`` names the package in the alias
            names = [node.module] if _forbidden(node.module) else [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found += [f"{name} (line {node.lineno})" for name in names if _forbidden(name)]
    return found


def _forbidden(name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in FORBIDDEN)


def test_services_selectors_tasks_imports_and_documents_do_not_import_the_api_layer():
    offenders = {module: imports for module, path in _domain_modules() if (imports := _http_imports(path))}
    assert {m: i for m, i in offenders.items() if m not in PENDING} == {}


def test_the_pending_list_holds_only_modules_that_still_import_the_api_layer():
    still = {module for module, path in _domain_modules() if _http_imports(path)}
    assert still >= PENDING, f"No longer imports the API layer, drop from PENDING: {sorted(PENDING - still)}"


def test_the_walk_reads_the_domain_modules():
    modules = {module for module, _ in _domain_modules()}
    assert {"shipping/services/awb.py", "shipping/documents/render.py", "shipping/tasks.py", "orders/imports/write.py",
            "catalog/services.py", "shopops/webhooks/services.py"} <= modules  # fmt: skip
    assert not {m for m in modules if "/api/" in m}
