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
