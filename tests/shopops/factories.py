import secrets

import factory
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, set_token_value

from shopops.models import IdempotencyKey, Invitation, Membership, Merchant, PartnerApplication, Role
from shopops.selectors import invitation_token_digest


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Merchant {n}")
    slug = factory.Sequence(lambda n: f"merchant-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    merchant = factory.SubFactory(MerchantFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.OWNER


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    merchant = factory.SubFactory(MerchantFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = Role.STAFF
    expires_at = factory.LazyFunction(lambda: timezone.now() + settings.SHOPOPS_INVITATION_TTL)


def invitation_with_link(**fields) -> tuple[Invitation, str]:
    """A pending invitation and the token of its link (as the send task would issue it)."""
    token = secrets.token_urlsafe(32)
    return InvitationFactory(token_digest=invitation_token_digest(token), **fields), token


class PartnerApplicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PartnerApplication

    merchant = factory.SubFactory(MerchantFactory)
    name = factory.Sequence(lambda n: f"Partner app {n}")
    client_type = PartnerApplication.CLIENT_CONFIDENTIAL
    authorization_grant_type = PartnerApplication.GRANT_CLIENT_CREDENTIALS
    client_secret = "partner-secret"
    algorithm = ""


def issue_token(application: PartnerApplication, scopes=None, user=None) -> str:
    """Store an access token for ``application`` (as the token endpoint would) and return its raw value."""
    raw = secrets.token_urlsafe(24)
    token = get_access_token_model()(
        application=application,
        user=user,
        scope=" ".join(settings.API_SCOPES if scopes is None else scopes),
        expires=timezone.now() + timezone.timedelta(hours=1),
    )
    set_token_value(token, raw)
    token.save()
    return raw


def aged_idempotency_key(merchant, key: str, age, now=None) -> IdempotencyKey:
    """A completed Idempotency-Key record created ``age`` ago."""
    created = (now or timezone.now()) - age
    record = IdempotencyKey.objects.create(
        merchant=merchant, client="user:1", key=key, fingerprint="f", status="completed", locked_at=created
    )
    IdempotencyKey.objects.filter(pk=record.pk).update(created_at=created)
    return record
