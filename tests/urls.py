"""Test-only URL conf: the real URLs plus probe endpoints that exercise the API base classes."""

import time
import uuid

from django.contrib.admin.models import LogEntry
from django.contrib.sessions.models import Session
from django.urls import include, path
from django.utils import timezone
from rest_framework import mixins, serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from shopops.api.base import MerchantAPIView, MerchantScopedGenericViewSet
from shopops.api.exceptions import Conflict
from shopops.api.ordering import WhitelistOrderingFilter as OrderingFilter
from shopops.models import Membership
from shopops.urls import urlpatterns as shopops_urlpatterns


class NoteInput(serializers.Serializer):
    note = serializers.CharField(max_length=100)
    quantity = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    sleep = serializers.FloatField(required=False, min_value=0, max_value=5)
    crash = serializers.BooleanField(required=False, default=False)
    conflict = serializers.BooleanField(required=False, default=False)


class ProbeNoteView(MerchantAPIView):
    """POST writes one Session row (a countable effect); flags make it crash, conflict or take time."""

    scope_object = "catalog"

    def post(self, request):
        data = NoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data.get("sleep"):
            time.sleep(data.validated_data["sleep"])
        if data.validated_data["crash"]:
            raise RuntimeError("probe crashed with a secret: hunter2")
        if data.validated_data["conflict"]:
            raise Conflict("probe_conflict", "The probe is in a conflicting state.", {"state": "busy"})
        note = Session.objects.create(
            session_key=uuid.uuid4().hex,
            session_data=f"{self.merchant.slug}:{data.validated_data['note']}",
            expire_date=timezone.now(),
        )
        return Response({"id": note.pk, "note": data.validated_data["note"]}, status=status.HTTP_201_CREATED)


class EntryOutput(serializers.ModelSerializer):
    class Meta:
        model = LogEntry
        fields = ["id", "object_id", "action_time"]


class ProbeEntryList(ListAPIView):
    """Keyset pagination over a table with a nullable ordering column."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = []
    queryset = LogEntry.objects.all()
    serializer_class = EntryOutput
    filter_backends = [OrderingFilter]
    ordering_fields = ["object_id", "action_time", "id"]
    ordering = ["-id"]


class MembershipProbeOutput(serializers.ModelSerializer):
    class Meta:
        model = Membership
        fields = ["id", "role"]


class ProbeMembershipViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    MerchantScopedGenericViewSet,
):
    """A merchant-scoped model resource for the tenancy matrix self-test."""

    scope_object = "catalog"
    queryset = Membership.objects.all()
    serializer_class = MembershipProbeOutput


router = SimpleRouter()
router.register("api/v1/_probe/members", ProbeMembershipViewSet, basename="probe-member")

probe_urlpatterns = [
    path("api/v1/_probe/notes/", ProbeNoteView.as_view(), name="probe-notes"),
    path("api/v1/_probe/entries/", ProbeEntryList.as_view(), name="probe-entries"),
    path("", include(router.urls)),
]

urlpatterns = probe_urlpatterns + shopops_urlpatterns
handler404 = "shopops.urls.handler404"
handler500 = "shopops.urls.handler500"
