from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from shopops.models import Merchant
from shopops.services import partner_application_create


class Command(BaseCommand):
    help = "Create a partner (OAuth2) application for a merchant and print its client id and secret, once."

    def add_arguments(self, parser):
        parser.add_argument("--merchant", required=True, help="The merchant's slug.")
        parser.add_argument("--name", required=True, help="A name for the application, e.g. 'Storefront'.")
        parser.add_argument(
            "--grant",
            choices=["client-credentials", "authorization-code"],
            default="client-credentials",
            help="client-credentials for machine partners, authorization-code (PKCE) for apps acting for a user.",
        )
        parser.add_argument("--scopes", default="", help="Space-separated scopes; all scopes when omitted.")
        parser.add_argument("--redirect-uri", action="append", default=[], help="Needed for authorization-code.")

    def handle(self, *args, **options):
        try:
            merchant = Merchant.objects.get(slug=options["merchant"])
        except Merchant.DoesNotExist as exc:
            raise CommandError(f"No merchant with slug {options['merchant']!r}.") from exc
        try:
            credentials = partner_application_create(
                merchant=merchant,
                name=options["name"],
                grant_type=options["grant"],
                scopes=options["scopes"].split(),
                redirect_uris=" ".join(options["redirect_uri"]),
            )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        app = credentials.application
        scopes = app.allowed_scopes or " ".join(settings.API_SCOPES)
        self.stdout.write(f"Partner application {app.name!r} for {merchant.slug} ({app.authorization_grant_type})")
        self.stdout.write(f"client_id:     {credentials.client_id}")
        self.stdout.write(f"client_secret: {credentials.client_secret}")
        self.stdout.write(f"scopes:        {scopes}")
        self.stdout.write("The secret is stored hashed: copy it now, it cannot be shown again.")
