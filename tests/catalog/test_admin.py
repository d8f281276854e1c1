"""The catalog dashboard: scoping, query counts, saves through the services, filters, stock actions, export."""

import csv
import io
import json
from decimal import Decimal
from operator import attrgetter

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from catalog import services
from catalog.models import Category, Location, Product, ProductImage, StockLevel, StockMovement
from tests.catalog.factories import CategoryFactory, LocationFactory, ProductFactory, stock
from tests.shopops.factories import MembershipFactory

ADMIN = "/admin/catalog"
EXPORT_HEADER = [
    "sku", "title", "brand", "category", "price", "mrp", "currency", "tax_rate", "hsn_code", "uqc", "weight_grams",
    "length_cm", "breadth_cm", "height_cm", "barcode", "status", "total_available",
]  # fmt: skip


@pytest.fixture
def staff_client(client, owner):
    client.force_login(owner)
    return client


def listed(response, key=attrgetter("sku")) -> list:
    return [key(obj) for obj in response.context["cl"].result_list]


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def filter_choices(response, field_path: str) -> list[str]:
    spec = next(s for s in response.context["cl"].filter_specs if getattr(s, "field_path", None) == field_path)
    return [label for _, label in spec.lookup_choices]


def catalog_of(merchant, tag: str) -> StockLevel:
    """A category, a product in it, a location and the product's stock there (with its ledger row)."""
    category = CategoryFactory(merchant=merchant, name=f"{tag} category", slug=f"{tag}-category")
    product = ProductFactory(merchant=merchant, sku=f"{tag.upper()}-1", category=category)
    return stock(product, LocationFactory(merchant=merchant, nickname=f"{tag}-wh"), 5)


def product_data(product=None, *, images=(), delete=(), new_images=(), **overrides) -> dict:
    """The product admin form as a browser posts it: fields, the images inline and (on change) the stock inline."""
    data = {
        "sku": "", "title": "", "description": "", "brand": "", "category": "", "status": "active", "price": "",
        "mrp": "", "currency": "INR", "tax_rate": "0", "hsn_code": "", "uqc": "NOS", "weight_grams": "0",
        "length_cm": "0", "breadth_cm": "0", "height_cm": "0", "barcode": "", "specs": "{}",
    }  # fmt: skip
    if product is not None:
        product.refresh_from_db()
        for name in data:
            value = getattr(product, "category_id" if name == "category" else name)
            data[name] = json.dumps(value) if name == "specs" else ("" if value is None else str(value))
    data.update(overrides)
    data.update(
        {
            "images-TOTAL_FORMS": str(len(images) + len(new_images)),
            "images-INITIAL_FORMS": str(len(images)),
            "images-MIN_NUM_FORMS": "0",
            "images-MAX_NUM_FORMS": "1000",
        }
    )
    for index, image in enumerate(images):
        data[f"images-{index}-id"] = str(image.pk)
        data[f"images-{index}-product"] = str(product.pk)
        if image in delete:
            data[f"images-{index}-DELETE"] = "on"
    for index, new in enumerate(new_images, start=len(images)):
        data.update({f"images-{index}-{name}": value for name, value in new.items()})
    if product is not None:
        levels = list(product.stock_levels.order_by("pk"))
        data["stock_levels-TOTAL_FORMS"] = data["stock_levels-INITIAL_FORMS"] = str(len(levels))
        data["stock_levels-MIN_NUM_FORMS"], data["stock_levels-MAX_NUM_FORMS"] = "0", "0"
        for index, level in enumerate(levels):
            data[f"stock_levels-{index}-id"] = str(level.pk)
            data[f"stock_levels-{index}-product"] = str(product.pk)
    return data


def png(name: str = "tee.png", image_format: str = "PNG", content_type: str = "image/png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format=image_format)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=content_type)


def exported(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


# -- scoping -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("category", attrgetter("name")),
        ("product", attrgetter("sku")),
        ("location", attrgetter("nickname")),
        ("stocklevel", attrgetter("sku")),
        ("stockmovement", attrgetter("product.sku")),
    ],
)
def test_each_changelist_shows_only_the_merchants_rows(staff_client, merchant, other_merchant, model, key):
    catalog_of(merchant, "ours")
    catalog_of(other_merchant, "theirs")

    response = staff_client.get(f"{ADMIN}/{model}/")

    assert response.status_code == 200
    expected = {"category": "ours category", "location": "ours-wh"}.get(model, "OURS-1")
    assert listed(response, key) == [expected]


def test_related_filters_offer_only_the_merchants_rows(staff_client, merchant, other_merchant):
    catalog_of(merchant, "ours")
    LocationFactory(merchant=merchant, nickname="ours-spare")  # a filter with a single choice is not shown
    catalog_of(other_merchant, "theirs")

    products = staff_client.get(f"{ADMIN}/product/")
    levels = staff_client.get(f"{ADMIN}/stocklevel/")
    ledger = staff_client.get(f"{ADMIN}/stockmovement/")

    assert filter_choices(products, "category") == ["ours category"]
    assert filter_choices(levels, "location") == ["ours-spare", "ours-wh"]
    assert filter_choices(ledger, "location") == ["ours-spare", "ours-wh"]


def test_another_merchants_product_is_not_reachable(staff_client, other_merchant):
    theirs = ProductFactory(merchant=other_merchant, title="Theirs")

    view = staff_client.get(f"{ADMIN}/product/{theirs.pk}/change/")
    change = staff_client.post(f"{ADMIN}/product/{theirs.pk}/change/", product_data(theirs, title="Mine now"))

    assert view.status_code == 302  # the admin's "does not exist" redirect
    assert change.status_code == 302
    theirs.refresh_from_db()
    assert theirs.title == "Theirs"


def test_every_catalog_page_renders(staff_client, merchant):
    level = catalog_of(merchant, "ours")
    services.product_image_add(product=level.product, url="https://cdn.example.com/a.jpg", alt="A")
    movement = StockMovement.objects.get()
    pages = [
        "category/add/", f"category/{level.product.category_id}/change/",
        "product/add/", f"product/{level.product_id}/change/",
        "location/add/", f"location/{level.location_id}/change/", f"location/{level.location_id}/delete/",
        f"stocklevel/{level.pk}/change/", f"stockmovement/{movement.pk}/change/",
    ]  # fmt: skip

    statuses = {page: staff_client.get(f"{ADMIN}/{page}").status_code for page in pages}

    assert statuses == dict.fromkeys(pages, 200)


# -- query counts: constant with more than one page ------------------------------------------------


def fill(merchant, count: int) -> None:
    """``count`` products (each in its own category, with stock: a level and a ledger row) and ``count`` locations."""
    location = Location.objects.filter(merchant=merchant).first() or LocationFactory(merchant=merchant)
    for _ in range(count):
        stock(ProductFactory(merchant=merchant, category=CategoryFactory(merchant=merchant)), location, 3)
    LocationFactory.create_batch(count, merchant=merchant)


@pytest.mark.parametrize("model", ["product", "stocklevel", "stockmovement", "location", "category"])
def test_changelist_query_count_does_not_grow_with_rows(staff_client, merchant, model, django_assert_max_num_queries):
    fill(merchant, 5)
    with django_assert_max_num_queries(20) as small:
        staff_client.get(f"{ADMIN}/{model}/")
    fill(merchant, 120)  # more than one page of 100

    with django_assert_max_num_queries(len(small.captured_queries)):
        response = staff_client.get(f"{ADMIN}/{model}/")

    # 125 rows each; locations: the stock's location and 5 + 120 more.
    assert response.context["cl"].result_count == (126 if model == "location" else 125)
    assert len(response.context["cl"].result_list) == 100


# -- categories ----------------------------------------------------------------------------------


def test_adding_a_category_derives_its_slug_through_the_service(staff_client, merchant):
    response = staff_client.post(f"{ADMIN}/category/add/", {"merchant": merchant.pk, "name": "Summer Tees", "slug": ""})

    assert response.status_code == 302
    assert list(Category.objects.values_list("merchant", "name", "slug")) == [
        (merchant.pk, "Summer Tees", "summer-tees")
    ]


def test_a_duplicate_category_slug_is_a_form_error_and_creates_nothing(staff_client, merchant):
    CategoryFactory(merchant=merchant, name="Shirts", slug="shirts")

    response = staff_client.post(f"{ADMIN}/category/add/", {"merchant": merchant.pk, "name": "Shirts", "slug": ""})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"slug": ["A category with slug 'shirts' already exists."]}
    assert Category.objects.count() == 1


# -- products --------------------------------------------------------------------------------------


def test_adding_a_product_creates_it_and_its_images_through_the_services(staff_client, merchant):
    shirts = CategoryFactory(merchant=merchant, name="Shirts")
    form = product_data(
        merchant=merchant.pk, sku="TEE-RED-M", title="Red tee", category=shirts.pk, price="499.00", mrp="599.00",
        new_images=[{"url": "https://cdn.example.com/red.jpg", "alt": "Front"}, {"image": png(), "alt": "Back"}],
    )  # fmt: skip

    response = staff_client.post(f"{ADMIN}/product/add/", form)

    assert response.status_code == 302
    product = Product.objects.get()
    assert (product.merchant, product.sku, product.title, product.category, product.price, product.mrp) == (
        merchant, "TEE-RED-M", "Red tee", shirts, Decimal("499.00"), Decimal("599.00"),
    )  # fmt: skip
    images = list(product.images.order_by("position"))
    # Positions were left blank: the service numbers them after the last image.
    assert [(i.position, i.url, bool(i.image), i.alt) for i in images] == [
        (1, "https://cdn.example.com/red.jpg", False, "Front"),
        (2, "", True, "Back"),
    ]


def test_a_duplicate_sku_on_add_is_a_form_error_and_creates_nothing(staff_client, merchant):
    ProductFactory(merchant=merchant, sku="TEE-RED-M")

    response = staff_client.post(
        f"{ADMIN}/product/add/", product_data(merchant=merchant.pk, sku="TEE-RED-M", title="Again", price="10.00")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "__all__": ["Product with this Merchant and SKU already exists."]
    }
    assert Product.objects.count() == 1


def test_a_duplicate_sku_on_change_shows_the_services_conflict_on_the_sku(staff_client, merchant):
    taken = ProductFactory(merchant=merchant, sku="TEE-RED-M")
    product = ProductFactory(merchant=merchant, sku="TEE-BLUE-M", title="Blue tee")

    response = staff_client.post(
        f"{ADMIN}/product/{product.pk}/change/", product_data(product, sku="TEE-RED-M", title="Renamed")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "sku": [f"A product with SKU 'TEE-RED-M' already exists (id {taken.pk})."]
    }
    product.refresh_from_db()
    assert (product.sku, product.title) == ("TEE-BLUE-M", "Blue tee")


def test_a_service_refusal_is_a_form_error_on_the_same_post(staff_client, owner, merchant, other_merchant):
    MembershipFactory(merchant=other_merchant, user=owner, role="owner")  # both merchants' categories are choices
    theirs = CategoryFactory(merchant=other_merchant, name="Their shirts")
    product = ProductFactory(merchant=merchant, title="Blue tee")
    form = product_data(product, title="Renamed", category=theirs.pk, new_images=[{"image": png(), "alt": "New"}])

    response = staff_client.post(f"{ADMIN}/product/{product.pk}/change/", form)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"category": ["Unknown category."]}
    # The uploaded image is validated again on the re-rendered form, without a spurious error.
    assert [inline.formset.errors for inline in response.context["inline_admin_formsets"]] == [[{}], []]
    product.refresh_from_db()
    assert (product.title, product.category) == ("Blue tee", None)
    assert ProductImage.objects.count() == 0


def test_a_refused_image_rolls_back_the_whole_save(staff_client, merchant):
    product = ProductFactory(merchant=merchant, title="Blue tee")
    form = product_data(
        product, title="Renamed",
        new_images=[{"url": "https://cdn.example.com/ok.jpg"}, {"image": png("scan.bmp", "BMP", "image/bmp")}],
    )  # fmt: skip

    response = staff_client.post(f"{ADMIN}/product/{product.pk}/change/", form)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "__all__": ["Image 2: Upload a JPEG, PNG, WebP or GIF image, not image/bmp."]
    }
    product.refresh_from_db()
    assert product.title == "Blue tee"
    assert ProductImage.objects.count() == 0


def test_changing_a_sku_updates_its_stock_levels_through_the_service(staff_client, merchant):
    product = ProductFactory(merchant=merchant, sku="TEE-RED-M")
    level = stock(product, LocationFactory(merchant=merchant), 4)

    response = staff_client.post(f"{ADMIN}/product/{product.pk}/change/", product_data(product, sku="TEE-RED-L"))

    assert response.status_code == 302
    product.refresh_from_db()
    level.refresh_from_db()
    assert (product.sku, level.sku, level.on_hand) == ("TEE-RED-L", "TEE-RED-L", 4)


def test_existing_images_are_deleted_and_new_ones_added_through_the_services(staff_client, merchant):
    product = ProductFactory(merchant=merchant)
    stock(product, LocationFactory(merchant=merchant), 2)
    kept = services.product_image_add(product=product, url="https://cdn.example.com/a.jpg", alt="A")
    gone = services.product_image_add(product=product, url="https://cdn.example.com/b.jpg", alt="B")
    assert staff_client.get(f"{ADMIN}/product/{product.pk}/change/").status_code == 200
    form = product_data(
        product, images=[kept, gone], delete=[gone], new_images=[{"url": "https://cdn.example.com/c.jpg"}]
    )

    response = staff_client.post(f"{ADMIN}/product/{product.pk}/change/", form)

    assert response.status_code == 302
    assert list(product.images.values_list("url", "position")) == [
        ("https://cdn.example.com/a.jpg", 1),
        ("https://cdn.example.com/c.jpg", 3),
    ]


def test_archive_action_archives_and_products_cannot_be_deleted(staff_client, merchant):
    old, kept = ProductFactory(merchant=merchant, sku="OLD"), ProductFactory(merchant=merchant, sku="KEPT")

    response = staff_client.post(
        f"{ADMIN}/product/", {"action": "archive_selected", ACTION_CHECKBOX_NAME: [old.pk], "index": "0"}
    )

    assert response.status_code == 302
    assert messages_of(response) == ["Archived 1 product(s)."]
    assert dict(Product.objects.values_list("sku", "status")) == {"OLD": "archived", "KEPT": "active"}
    actions = [
        name for name, _ in staff_client.get(f"{ADMIN}/product/").context["action_form"].fields["action"].choices
    ]
    assert actions == ["", "archive_selected"]
    assert staff_client.post(f"{ADMIN}/product/{kept.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Product.objects.count() == 2


def test_stock_state_filter_partitions_products(staff_client, merchant):
    main, spare = LocationFactory(merchant=merchant), LocationFactory(merchant=merchant)
    services.stock_set_threshold(
        level=stock(ProductFactory(merchant=merchant, sku="IN"), main, 10), low_stock_threshold=2
    )
    services.stock_set_threshold(
        level=stock(ProductFactory(merchant=merchant, sku="LOW"), main, 3), low_stock_threshold=5
    )
    empty_at_spare = ProductFactory(merchant=merchant, sku="LOW-EMPTY-SPARE")
    stock(empty_at_spare, main, 8)
    stock(empty_at_spare, spare, 0)  # threshold 0: an empty level is low
    stock(ProductFactory(merchant=merchant, sku="OUT-RESERVED"), main, 4, reserved=4)
    ProductFactory(merchant=merchant, sku="OUT-NEVER-STOCKED")

    def skus(state: str) -> list[str]:
        return listed(staff_client.get(f"{ADMIN}/product/?stock_state={state}"))

    assert skus("in") == ["IN"]
    assert skus("low") == ["LOW", "LOW-EMPTY-SPARE"]
    assert skus("out") == ["OUT-NEVER-STOCKED", "OUT-RESERVED"]
    totals = {p.sku: p.total_available for p in staff_client.get(f"{ADMIN}/product/").context["cl"].result_list}
    assert totals == {"IN": 10, "LOW": 3, "LOW-EMPTY-SPARE": 8, "OUT-NEVER-STOCKED": 0, "OUT-RESERVED": 0}


# -- CSV export --------------------------------------------------------------------------------


def test_export_streams_the_searched_and_filtered_rows(staff_client, merchant, other_merchant):
    shirts = CategoryFactory(merchant=merchant, name="Shirts")
    red = ProductFactory(
        merchant=merchant, sku="TEE-RED", title="Red tee", brand="Acme", category=shirts, barcode="4006381333931",
        length_cm=Decimal("30.0"), breadth_cm=Decimal("20.0"), height_cm=Decimal("2.5"),
    )  # fmt: skip
    stock(red, LocationFactory(merchant=merchant), 7, reserved=2)
    ProductFactory(merchant=merchant, sku="TEE-BLUE", title="Blue tee", mrp=None)
    ProductFactory(merchant=merchant, sku="TEE-OLD", title="Old tee", status="archived")  # filtered out
    ProductFactory(merchant=merchant, sku="MUG-1", title="Mug")  # not found by the search
    ProductFactory(merchant=other_merchant, sku="TEE-THEIRS", title="Their tee")  # another merchant's

    response = staff_client.get(f"{ADMIN}/product/export/?q=tee&status__exact=active")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="products-')
    assert exported(response) == [
        EXPORT_HEADER,
        ["TEE-BLUE", "Blue tee", "", "", "499.00", "", "INR", "18.00", "6109", "NOS", "250", "0.0", "0.0", "0.0", "",
         "active", "0"],
        ["TEE-RED", "Red tee", "Acme", "Shirts", "499.00", "599.00", "INR", "18.00", "6109", "NOS", "250", "30.0",
         "20.0", "2.5", "4006381333931", "active", "5"],
    ]  # fmt: skip


def test_changelist_links_to_the_export_with_its_query_string(staff_client):
    response = staff_client.get(f"{ADMIN}/product/?status__exact=active&q=tee")

    assert 'href="/admin/catalog/product/export/?q=tee&amp;status__exact=active"' in response.content.decode()


def test_export_neutralises_spreadsheet_formulas(staff_client, merchant):
    ProductFactory(merchant=merchant, sku="F-1", title='=HYPERLINK("https://evil.example","x")', brand="@brand")

    rows = exported(staff_client.get(f"{ADMIN}/product/export/"))

    assert rows[1][:3] == ["F-1", '\'=HYPERLINK("https://evil.example","x")', "'@brand"]


# -- locations ------------------------------------------------------------------------------------


def location_data(merchant, **overrides) -> dict:
    data = {
        "merchant": merchant.pk, "nickname": "blr-main", "name": "Bengaluru main", "is_active": "on",
        "contact_name": "Asha", "phone": "098123 45678", "email": "", "line1": "12 MG Road", "line2": "",
        "city": "Bengaluru", "state": "Karnataka", "postcode": "560001", "country": "IN",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_adding_a_location_goes_through_the_service(staff_client, merchant):
    response = staff_client.post(f"{ADMIN}/location/add/", location_data(merchant))

    assert response.status_code == 302
    location = Location.objects.get()
    # The service normalised the phone to E.164 and made the merchant's first location its default.
    assert (location.merchant, location.nickname, location.phone, location.is_default) == (
        merchant, "blr-main", "+919812345678", True,
    )  # fmt: skip


def test_a_duplicate_nickname_is_a_form_error(staff_client, merchant):
    LocationFactory(merchant=merchant, nickname="blr-main")

    response = staff_client.post(f"{ADMIN}/location/add/", location_data(merchant))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "__all__": ["Location with this Merchant and Nickname already exists."]
    }
    assert Location.objects.count() == 1


@pytest.mark.parametrize(
    ("existing_default", "changes", "errors"),
    [
        (False, {}, {"is_active": ["The merchant's first location becomes its default, so it must be active."]}),
        (
            True,
            {"is_default": "on"},
            {"is_default": ["An inactive location cannot be the default; make it active first."]},
        ),
    ],
    ids=["inactive-first-location", "inactive-asked-default"],
)
def test_an_inactive_location_cannot_be_added_as_the_default(staff_client, merchant, existing_default, changes, errors):
    if existing_default:
        LocationFactory(merchant=merchant, nickname="main", is_default=True)
    form = location_data(merchant, **changes)
    del form["is_active"]  # an unchecked box is not posted

    response = staff_client.post(f"{ADMIN}/location/add/", form)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == errors
    assert list(Location.objects.values_list("nickname", flat=True)) == (["main"] if existing_default else [])


def test_the_default_location_cannot_be_deactivated(staff_client, merchant):
    default = LocationFactory(merchant=merchant, nickname="blr-main", is_default=True)
    form = location_data(merchant, is_default="on")
    del form["is_active"]

    response = staff_client.post(f"{ADMIN}/location/{default.pk}/change/", form)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "is_active": ["The default location cannot be deactivated; make another the default."]
    }
    default.refresh_from_db()
    assert (default.is_active, default.is_default) == (True, True)


def test_deleting_the_default_location_is_refused_with_a_message(staff_client, merchant):
    default = LocationFactory(merchant=merchant, is_default=True)
    LocationFactory(merchant=merchant)

    response = staff_client.post(f"{ADMIN}/location/{default.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert response["Location"] == f"{ADMIN}/location/{default.pk}/change/"
    assert messages_of(response) == ["Make another location the default first."]
    assert Location.objects.filter(pk=default.pk).exists()


def test_an_unused_location_is_deleted_and_one_holding_stock_is_not(staff_client, merchant):
    LocationFactory(merchant=merchant, is_default=True)
    unused, busy = LocationFactory(merchant=merchant), LocationFactory(merchant=merchant)
    stock(ProductFactory(merchant=merchant), busy, 1)

    deleted = staff_client.post(f"{ADMIN}/location/{unused.pk}/delete/", {"post": "yes"})
    refused = staff_client.post(f"{ADMIN}/location/{busy.pk}/delete/", {"post": "yes"})

    assert deleted.status_code == 302
    assert not Location.objects.filter(pk=unused.pk).exists()
    assert refused.status_code == 200  # the "cannot delete" page
    assert refused.context["protected"] == [
        "1 stock record(s). A location that holds stock cannot be deleted; deactivate it."
    ]
    assert Location.objects.filter(pk=busy.pk).exists()


# -- stock levels ---------------------------------------------------------------------------------


def test_low_stock_filter(staff_client, merchant):
    main = LocationFactory(merchant=merchant)
    for sku, on_hand, reserved, threshold in [("A", 3, 0, 5), ("B", 5, 0, 5), ("C", 6, 0, 5), ("D", 4, 4, 0)]:
        level = stock(ProductFactory(merchant=merchant, sku=sku), main, on_hand, reserved=reserved)
        services.stock_set_threshold(level=level, low_stock_threshold=threshold)

    assert listed(staff_client.get(f"{ADMIN}/stocklevel/?low_stock=yes")) == ["A", "B", "D"]
    assert listed(staff_client.get(f"{ADMIN}/stocklevel/?low_stock=no")) == ["C"]


def test_stock_levels_cannot_be_added_and_only_the_threshold_changes(staff_client, merchant):
    level = stock(ProductFactory(merchant=merchant), LocationFactory(merchant=merchant), 5)

    add = staff_client.get(f"{ADMIN}/stocklevel/add/")
    change = staff_client.post(f"{ADMIN}/stocklevel/{level.pk}/change/", {"low_stock_threshold": "4", "on_hand": "999"})

    assert add.status_code == 403
    assert change.status_code == 302
    level.refresh_from_db()
    assert (level.low_stock_threshold, level.on_hand) == (4, 5)
    assert StockMovement.objects.count() == 1


def adjust(client, levels, **form):
    data = {"action": "adjust_stock", ACTION_CHECKBOX_NAME: [level.pk for level in levels], "select_across": "0"}
    data.update({f"adjust-{name}": value for name, value in form.items()}, apply="Adjust stock")
    return client.post(f"{ADMIN}/stocklevel/", data)


def test_adjust_stock_asks_for_the_adjustment_on_an_intermediate_page(staff_client, merchant):
    level = stock(ProductFactory(merchant=merchant, sku="TEE"), LocationFactory(merchant=merchant), 5)

    response = staff_client.post(
        f"{ADMIN}/stocklevel/", {"action": "adjust_stock", ACTION_CHECKBOX_NAME: [level.pk], "index": "0"}
    )

    assert response.status_code == 200
    assert response.templates[0].name == "admin/catalog/stocklevel/adjust_stock.html"
    assert [lv.sku for lv in response.context["levels"]] == ["TEE"]
    assert not response.context["form"].is_bound


def test_adjust_stock_adds_to_each_level_with_a_ledger_row(staff_client, owner, merchant):
    main = LocationFactory(merchant=merchant, nickname="main")
    red = stock(ProductFactory(merchant=merchant, sku="RED"), main, 10)
    blue = stock(ProductFactory(merchant=merchant, sku="BLUE"), main, 2, reserved=1)

    response = adjust(staff_client, [red, blue], action="add", quantity="5", reason="cycle count")

    assert response.status_code == 302
    assert messages_of(response) == ["BLUE at main: on hand 7, available 6.", "RED at main: on hand 15, available 15."]
    assert dict(StockLevel.objects.values_list("sku", "on_hand")) == {"RED": 15, "BLUE": 7}
    moves = StockMovement.objects.filter(reason="cycle count").order_by("product__sku")
    assert list(moves.values_list("product__sku", "kind", "quantity", "on_hand_after", "actor")) == [
        ("BLUE", "receipt", 5, 7, f"user:{owner.pk}"),
        ("RED", "receipt", 5, 15, f"user:{owner.pk}"),
    ]


def test_adjust_stock_below_reserved_is_refused_and_changes_nothing(staff_client, merchant):
    level = stock(
        ProductFactory(merchant=merchant, sku="RED"), LocationFactory(merchant=merchant, nickname="main"), 5, 3
    )

    response = adjust(staff_client, [level], action="remove", quantity="4", reason="damaged")

    assert response.status_code == 302
    assert messages_of(response) == ["RED at main: Not enough stock for RED."]
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (5, 3)
    assert StockMovement.objects.filter(reason="damaged").count() == 0


def test_adjust_stock_needs_a_reason(staff_client, merchant):
    level = stock(ProductFactory(merchant=merchant), LocationFactory(merchant=merchant), 5)

    response = adjust(staff_client, [level], action="add", quantity="5", reason="")

    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    level.refresh_from_db()
    assert level.on_hand == 5


def test_a_viewer_cannot_adjust_stock(client, merchant):
    viewer = MembershipFactory(merchant=merchant, role="viewer").user
    level = stock(ProductFactory(merchant=merchant), LocationFactory(merchant=merchant), 5)
    client.force_login(viewer)

    response = adjust(client, [level], action="add", quantity="5", reason="sneaky")

    assert response.status_code == 200  # no action is offered to a viewer: the changelist again
    assert response.context["action_form"] is None
    level.refresh_from_db()
    assert level.on_hand == 5
    assert StockMovement.objects.filter(reason="sneaky").count() == 0


def test_another_merchants_levels_are_not_adjusted(staff_client, merchant, other_merchant):
    theirs = stock(ProductFactory(merchant=other_merchant), LocationFactory(merchant=other_merchant), 5)

    response = adjust(staff_client, [theirs], action="set", quantity="0", reason="sneaky")

    assert response.status_code == 302
    assert messages_of(response) == []  # the scoped queryset holds none of the posted ids
    theirs.refresh_from_db()
    assert theirs.on_hand == 5


# -- the ledger ---------------------------------------------------------------------------------


def test_the_ledger_is_read_only(staff_client, merchant):
    stock(ProductFactory(merchant=merchant), LocationFactory(merchant=merchant), 5)
    movement = StockMovement.objects.get()
    change_url = f"{ADMIN}/stockmovement/{movement.pk}/change/"

    assert staff_client.get(f"{ADMIN}/stockmovement/add/").status_code == 403
    assert staff_client.post(f"{ADMIN}/stockmovement/add/", {"quantity": "5", "reason": "forged"}).status_code == 403
    assert staff_client.get(change_url).status_code == 200  # view only
    assert staff_client.post(change_url, {"quantity": "50", "reason": "edited"}).status_code == 403
    assert staff_client.post(f"{ADMIN}/stockmovement/{movement.pk}/delete/", {"post": "yes"}).status_code == 403
    movement.refresh_from_db()
    assert (movement.quantity, movement.reason, StockMovement.objects.count()) == (5, "test stock", 1)


def test_a_leaf_category_is_deleted_through_the_service_and_its_products_stay(staff_client, merchant):
    category = CategoryFactory(merchant=merchant)
    product = ProductFactory(merchant=merchant, category=category)

    response = staff_client.post(f"/admin/catalog/category/{category.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Category.objects.filter(pk=category.pk).exists()
    product.refresh_from_db()
    assert product.category_id is None


def test_a_category_with_children_is_not_deleted(staff_client, merchant):
    parent = CategoryFactory(merchant=merchant)
    CategoryFactory(merchant=merchant, parent=parent)

    response = staff_client.post(f"/admin/catalog/category/{parent.pk}/delete/", {"post": "yes"})

    assert response.status_code == 200  # the admin's page naming the protected sub-categories
    assert "would require deleting the following protected related objects" in response.content.decode()
    assert Category.objects.filter(pk=parent.pk).exists()
