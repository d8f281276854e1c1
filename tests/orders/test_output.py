"""The hand-written order representation of a row equals DRF's generic one of the model, field for field."""

import json

import pytest
from rest_framework.renderers import JSONRenderer

from orders.api.serializers import OrderOutput
from orders.selectors import order_queryset, order_rows, with_lines
from tests.orders.factories import make_order


@pytest.mark.parametrize("status", ["new", "shipped", "cancelled", "partially_returned"])
def test_fast_representation_matches_the_declared_fields(merchant, status):
    order = order_queryset().get(pk=make_order(merchant, status).pk)
    row = with_lines(list(order_rows(order_queryset().filter(pk=order.pk))))[0]
    serializer = OrderOutput()

    fast = json.loads(JSONRenderer().render(serializer.to_representation(row)))
    generic = json.loads(JSONRenderer().render(serializer.to_representation(order)))

    assert fast == generic
    assert list(fast) == OrderOutput.Meta.fields
