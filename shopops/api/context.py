"""Who is calling the API, for which merchant, with which scopes and role."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from oauth2_provider.models import AbstractAccessToken

from shopops.api.exceptions import ApiError
from shopops.models import Membership, Merchant, PartnerApplication

MERCHANT_HEADER = "X-Merchant"


@dataclass(frozen=True)
class ApiClient:
    merchant: Merchant
    client_key: str
    scopes: frozenset[str]
    role: str | None
    application: PartnerApplication | None
    user: AbstractBaseUser | None


def resolve_api_client(request) -> ApiClient:
    """Resolve the merchant and rights of an authenticated DRF request.

    A partner token acts for its application's merchant, with the token's
    scopes; a token issued to a user (authorization code) also needs that
    user's membership in the merchant. A logged-in user acts for the merchant
    of their only membership, or for the one named by the ``X-Merchant``
    header (any merchant for a superuser).
    """
    if isinstance(request.auth, AbstractAccessToken):
        return _client_from_token(request.auth)
    return _client_from_session(request)


def _client_from_token(token: AbstractAccessToken) -> ApiClient:
    application = token.application
    merchant = application.merchant
    role = None
    if token.user_id is not None:
        role = (
            Membership.objects.filter(merchant=merchant, user_id=token.user_id).values_list("role", flat=True).first()
        )
        if role is None:
            raise ApiError(
                403, "not_a_member", "The user behind this token is not a member of the application's merchant."
            )
    return ApiClient(
        merchant=merchant,
        client_key=f"app:{application.client_id}",
        scopes=frozenset(token.scope.split()),
        role=role,
        application=application,
        user=token.user,
    )


def _client_from_session(request) -> ApiClient:
    user = request.user
    slug = request.headers.get(MERCHANT_HEADER, "").strip()
    memberships = Membership.objects.select_related("merchant").filter(user=user)
    if slug:
        memberships = memberships.filter(merchant__slug=slug)
    found = list(memberships[:2])
    if len(found) == 1:
        merchant, role = found[0].merchant, found[0].role
    elif user.is_superuser and slug and (merchant := Merchant.objects.filter(slug=slug).first()):
        role = "owner"
    elif slug:
        raise ApiError(403, "not_a_member", f"You are not a member of merchant {slug!r}.")
    elif not found:
        raise ApiError(403, "not_a_member", "Your account is not a member of any merchant.")
    else:
        raise ApiError(
            403,
            "merchant_required",
            f"You belong to several merchants: name one with the {MERCHANT_HEADER} header (its slug).",
        )
    return ApiClient(
        merchant=merchant,
        client_key=f"user:{user.pk}",
        scopes=frozenset(settings.API_SCOPES),
        role=role,
        application=None,
        user=user,
    )
