"""The admin's and the API docs' pages: "View site" leads somewhere, the operations are grouped by resource, and the
pages load their scripts, styles and icon from ShopOps itself, never from another host."""

from html.parser import HTMLParser
from xml.etree import ElementTree

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from drf_spectacular.generators import SchemaGenerator

from shopops.api.schema import API_TAGS

pytestmark = pytest.mark.django_db

ICON = "/static/shopops/favicon.svg"
DOCS_POLICY = "img-src 'self' data: blob:; font-src 'self' data:"


class Page(HTMLParser):
    """The elements of an HTML page that have a src or href, and its meta tags: (tag, attributes)."""

    def __init__(self, html: str):
        super().__init__()
        self.links: list[tuple[str, dict]] = []
        self.metas: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "src" in attributes or "href" in attributes:
            self.links.append((tag, attributes))
        if tag == "meta":
            self.metas.append(attributes)

    def resources(self) -> list[str]:
        """What the browser loads by itself: scripts, images, stylesheets, icons, fonts (not links to follow)."""
        return [attributes.get("src") or attributes["href"] for tag, attributes in self.links if tag != "a"]

    def icons(self) -> list[str]:
        return [a["href"] for tag, a in self.links if tag == "link" and a.get("rel") == "icon"]


@pytest.fixture
def pages(client, admin_client):
    return {
        "/admin/login/": client,
        "/admin/": admin_client,
        "/api/docs/": client,
        "/api/redoc/": client,
    }


# -- "View site" --------------------------------------------------------------------------------------------------


def test_view_site_opens_the_api_docs(admin_client, client):
    index = admin_client.get("/admin/").content.decode()

    assert '<a href="/api/docs/">View site</a>' in index
    assert client.get("/api/docs/").status_code == 200


# -- sections of the API docs -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize(
    ("method", "path", "tag"),
    [
        ("get", "/api/v1/orders/", "orders"),
        ("post", "/api/v1/orders/{id}/confirm/", "orders"),
        ("get", "/api/v1/products/", "products"),
        ("get", "/api/v1/categories/", "products"),
        ("post", "/api/v1/inventory/{sku}/adjust/", "inventory"),
        ("get", "/api/v1/locations/", "inventory"),
        ("post", "/api/v1/shipments/", "shipments"),
        ("post", "/api/v1/ship/", "shipments"),
        ("get", "/api/v1/serviceability/", "couriers"),
        ("post", "/api/v1/couriers/{code}/webhook/", "couriers"),
        ("get", "/api/v1/channels/", "channels"),
        ("post", "/api/v1/sku-mappings/bulk/", "channels"),
        ("post", "/api/v1/imports/", "imports"),
        ("get", "/api/v1/tracking/{awb}/", "tracking"),
        ("post", "/api/v1/documents/labels/", "documents"),
        ("get", "/api/v1/webhook-endpoints/", "webhooks"),
        ("post", "/api/v1/webhooks/channels/{webhook_id}/", "inbound webhooks"),
        ("get", "/api/v1/me/", "account"),
    ],
)
def test_an_operation_is_tagged_with_its_resource(schema, method, path, tag):
    assert schema["paths"][path][method]["tags"] == [tag]


def test_every_operation_has_one_described_tag_and_the_sections_come_in_order(schema):
    tags = {tuple(operation["tags"]) for item in schema["paths"].values() for operation in item.values()}

    assert sorted(tags) == sorted((tag,) for tag in API_TAGS)
    assert schema["tags"] == [{"name": tag, "description": description} for tag, (description, _) in API_TAGS.items()]


# -- nothing from another host ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/login/", "/admin/", "/api/docs/", "/api/redoc/"])
def test_the_page_loads_nothing_from_another_host_and_shows_shopops_s_icon(pages, path):
    response = pages[path].get(path)
    page = Page(response.content.decode())

    assert response.status_code == 200
    assert [url for _, a in page.links for url in (a.get("src"), a.get("href")) if url and url.startswith(
        ("http://", "https://", "//"))] == []  # fmt: skip
    assert page.icons() == [ICON]
    for url in page.resources():  # each one a static file of the app's (its installed apps')
        assert url.startswith(settings.STATIC_URL), url
        assert finders.find(url.removeprefix(settings.STATIC_URL)) is not None, url


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_the_api_docs_let_the_browser_fetch_images_and_fonts_only_from_shopops(client, path):
    page = Page(client.get(path).content.decode())

    assert [m["content"] for m in page.metas if m.get("http-equiv") == "Content-Security-Policy"] == [DOCS_POLICY]


def test_swagger_ui_does_not_ask_the_online_validator(client):
    content = client.get("/api/docs/").content.decode()

    assert '"validatorUrl": null' in content
    assert "swagger.io" not in content


def test_the_icon_is_an_svg_among_the_static_files():
    path = finders.find("shopops/favicon.svg")

    root = ElementTree.parse(path).getroot()
    assert (root.tag, root.get("viewBox")) == ("{http://www.w3.org/2000/svg}svg", "0 0 32 32")
