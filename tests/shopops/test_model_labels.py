"""Every field of ShopOps's own models has a label a merchant can read, and every row a name of its own.

Without them the admin shows Django's defaults: "Cod amount", "Awb assigned at", "Sku mapping object (3)". The
checks walk the app registry, so a model or field added later is covered without editing this file.
"""

import importlib
import re
from pathlib import Path

import factory
from django.apps import apps
from django.db import models

APP_LABELS = ("shopops", "catalog", "orders", "shipping", "marketing")
#: Written in capitals in a label; in lower case as a word, one is a label Django made from a field's name.
ACRONYMS = ("cod", "awb", "sku", "gstin", "hsn", "url", "ndr", "rto", "utr", "pdf", "csv", "api", "id")
LOWER_CASE_ACRONYM = re.compile(r"\b(?:" + "|".join(ACRONYMS) + r")\b")
DJANGO_DEFAULT_STR = re.compile(r"^\w+ object \(.*\)$")


def project_models(*, include_auto_created: bool = False) -> list[type[models.Model]]:
    return [
        model
        for model in apps.get_models(include_auto_created=include_auto_created)
        if model._meta.app_label in APP_LABELS
    ]


def labelled_fields(model: type[models.Model]) -> list[models.Field]:
    """The fields a form or a changelist shows: concrete, declared (not made by Django), not the primary key."""
    return [
        field
        for field in model._meta.get_fields()
        if field.concrete and not field.auto_created and not field.primary_key
    ]


def has_explicit_verbose_name(field: models.Field) -> bool:
    # deconstruct() names verbose_name only when it was given; field.verbose_name is always set.
    return "verbose_name" in field.deconstruct()[3]


def lower_case_acronyms(text: str) -> list[str]:
    return LOWER_CASE_ACRONYM.findall(str(text))


def factories() -> dict[type[models.Model], type[factory.django.DjangoModelFactory]]:
    """The model factories of tests/*/factories.py, by model."""
    found = {}
    for path in sorted(Path(__file__).resolve().parents[1].glob("*/factories.py")):
        module = importlib.import_module(f"tests.{path.parent.name}.factories")
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, factory.django.DjangoModelFactory)
                    and value._meta.model is not None):  # fmt: skip
                found.setdefault(value._meta.model, value)
    return found


def default_str_of(model: type[models.Model], factory_class) -> str | None:
    """Why ``model``'s rows have no name of their own (None: they have one), from an unsaved instance with a pk."""
    instance = factory_class.build() if factory_class is not None else model()
    instance.pk = 7
    try:
        text = str(instance)
    except Exception as error:  # a __str__ that fails is reported with the others
        return f"__str__ raised {error.__class__.__name__}: {error}"
    if model.__str__ is models.Model.__str__ or DJANGO_DEFAULT_STR.fullmatch(text):
        return f"str() is Django's default {text!r}"
    return None


def test_the_walk_covers_the_project_apps():
    labels = {model._meta.app_label for model in project_models()}

    assert labels >= {"shopops", "catalog", "orders", "shipping"}
    assert labels <= set(APP_LABELS)


def test_every_field_has_an_explicit_verbose_name():
    missing = [
        f"{model._meta.label}.{field.name}"
        for model in project_models()
        for field in labelled_fields(model)
        if not has_explicit_verbose_name(field)
    ]

    assert not missing, (
        "Give these fields a verbose name in sentence case (the first positional argument; verbose_name= for "
        "ForeignKey, OneToOneField, ManyToManyField and money_field):\n  " + "\n  ".join(missing)
    )


def test_no_verbose_name_writes_an_acronym_in_lower_case():
    offending = [
        f"{model._meta.label}.{field.name}: {field.verbose_name!r}"
        for model in project_models()
        for field in labelled_fields(model)
        if lower_case_acronyms(field.verbose_name)
    ]
    offending += [
        f"{model._meta.label} (Meta.{option}): {getattr(model._meta, option)!r}"
        for model in project_models()
        for option in ("verbose_name", "verbose_name_plural")
        if lower_case_acronyms(getattr(model._meta, option))
    ]

    assert not offending, (
        f"Write these acronyms in capitals ({', '.join(a.upper() for a in ACRONYMS)}):\n  " + "\n  ".join(offending)
    )


def test_every_model_names_its_rows():
    by_model = factories()
    offending = []
    for model in project_models(include_auto_created=True):
        problem = default_str_of(model, by_model.get(model))
        if problem:
            offending.append(f"{model._meta.label}: {problem}")

    assert not offending, "Give these models a __str__ that says what the row is:\n  " + "\n  ".join(offending)


def test_the_checks_catch_what_django_makes_by_default():
    unlabelled = models.DecimalField(max_digits=14, decimal_places=2)
    unlabelled.set_attributes_from_name("cod_amount")
    labelled = models.DecimalField("COD amount", max_digits=14, decimal_places=2)
    labelled.set_attributes_from_name("cod_amount")

    assert unlabelled.verbose_name == "cod amount"
    assert not has_explicit_verbose_name(unlabelled)
    assert lower_case_acronyms(unlabelled.verbose_name) == ["cod"]
    assert has_explicit_verbose_name(labelled)
    assert lower_case_acronyms(labelled.verbose_name) == []
    assert lower_case_acronyms("channel order id, awb assigned, code, valid, identity") == ["id", "awb"]
