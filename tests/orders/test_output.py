"""The hand-written order representation equals DRF's generic one for the declared fields."""

import json

import pytest
from rest_framework.renderers import JSONRenderer
from rest_framework.serializers import ModelSerializer

from orders.api.serializers import OrderOutput
from orders.selectors import order_queryset
from tests.orders.factories import make_order


@pytest.mark.parametrize("status", ["new", "shipped", "cancelled", "partially_returned"])
def test_fast_representation_matches_the_declared_fields(merchant, status):
    order = order_queryset().get(pk=make_order(merchant, status).pk)
    serializer = OrderOutput()

    fast = json.loads(JSONRenderer().render(serializer.to_representation(order)))
    generic = json.loads(JSONRenderer().render(ModelSerializer.to_representation(serializer, order)))

    assert fast == generic
    assert list(fast) == OrderOutput.Meta.fields
