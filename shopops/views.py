"""The invitation page, ``/invitations/<token>/``: how an invited person joins a merchant.

A visitor who is not logged in sees the merchant and the role, and either logs in on the page or creates an
account for the invited address (the link proves the address), which accepts at once. A logged-in user whose
email is the invited address accepts with a button (a POST, CSRF-protected); any other logged-in user is told
to log in with the invited account. Unknown, expired, withdrawn and used links get a page of their own
(404 or 410) that names no merchant and no user.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from shopops.api.exceptions import status_for
from shopops.errors import DomainError
from shopops.models import Role
from shopops.selectors import invitation_for_token, invitation_refusal
from shopops.services import invitation_accept, invitation_sign_up

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


class InvitationSignUpForm(forms.Form):
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password2") and cleaned["password1"] != cleaned["password2"]:
            self.add_error("password2", "The two passwords differ.")
        return cleaned


def _page(request, template: str, context: dict, status: int = 200):
    response = render(request, template, context, status=status)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL: never pass it on
    return response


def _refused(request, error: DomainError):
    return _page(request, "invitations/refused.html", {"code": error.code, "message": error.message},
                 status_for(error))  # fmt: skip


def _joined(request, membership, new_account: bool = False):
    text = f"You joined {membership.merchant.name} as {Role(membership.role).label.lower()}."
    if new_account:
        text += f" Your username is {membership.user.get_username()}."
    messages.success(request, text)
    return redirect(reverse("admin:index"))


@sensitive_post_parameters("password", "password1", "password2")
@never_cache
@require_http_methods(["GET", "POST"])
def invitation_page(request, token: str):
    try:
        invitation = invitation_for_token(token)
    except DomainError as error:
        return _refused(request, error)
    user = request.user if request.user.is_authenticated else None
    refusal = invitation_refusal(invitation, user)
    if refusal is not None and refusal.code != "invitation_email_mismatch":
        return _refused(request, refusal)
    action = request.POST.get("action") if request.method == "POST" else None
    login_form = AuthenticationForm(request)
    sign_up_form = InvitationSignUpForm()
    if user is None and action == "login":
        login_form = AuthenticationForm(request, data=request.POST)
        if login_form.is_valid():
            login(request, login_form.get_user())
            response = redirect(request.path)
            response.headers["Referrer-Policy"] = "no-referrer"
            return response
    elif user is None and action == "signup":
        sign_up_form = InvitationSignUpForm(request.POST)
        if sign_up_form.is_valid():
            data = sign_up_form.cleaned_data
            try:
                membership = invitation_sign_up(token=token, password=data["password1"],
                                                first_name=data["first_name"], last_name=data["last_name"])  # fmt: skip
            except ValidationError as exc:
                errors = exc.message_dict.get("password", exc.messages) if hasattr(exc, "error_dict") else exc.messages
                sign_up_form.add_error("password1", errors)
            except DomainError as error:
                if error.code != "account_exists":
                    return _refused(request, error)
                sign_up_form.add_error(None, error.message)
            else:
                login(request, membership.user, backend=MODEL_BACKEND)
                return _joined(request, membership, new_account=True)
    elif user is not None and action == "accept":
        try:
            membership = invitation_accept(user=user, token=token)
        except DomainError as error:
            return _refused(request, error)
        return _joined(request, membership)
    context = {
        "invitation": invitation,
        "merchant": invitation.merchant.name,
        "role": Role(invitation.role).label,
        "expires_at": timezone.localtime(invitation.expires_at, invitation.merchant.tzinfo),
        "user": user,
        "mismatch": refusal,
        "accepted": invitation.accepted_at is not None,
        "login_form": login_form,
        "sign_up_form": sign_up_form,
    }
    return _page(request, "invitations/invitation.html", context, status_for(refusal) if refusal else 200)
