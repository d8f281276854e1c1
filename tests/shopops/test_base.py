import pytest
from django.core.exceptions import ImproperlyConfigured

from shopops.api.base import MerchantScopedGenericViewSet
from shopops.models import Membership


def test_a_scoped_viewset_cannot_override_get_queryset():
    with pytest.raises(ImproperlyConfigured, match="implement get_base_queryset"):

        class Leaky(MerchantScopedGenericViewSet):
            queryset = Membership.objects.all()

            def get_queryset(self):
                return Membership.objects.all()


def test_a_method_the_endpoint_does_not_offer_is_405_before_the_idempotency_key_is_read(api):
    response = api.patch("/api/v1/orders/bulk/", {}, format="json", HTTP_IDEMPOTENCY_KEY="")

    assert response.status_code == 405
    assert response.json() == {"code": "method_not_allowed", "message": 'Method "PATCH" not allowed.', "details": {}}
    assert response["Allow"] == "POST, OPTIONS"
