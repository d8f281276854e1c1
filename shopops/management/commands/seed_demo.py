from importlib import import_module
from importlib.util import find_spec

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from shopops.models import Merchant, PartnerApplication, Role
from shopops.services import membership_add, merchant_create, partner_application_create

DEMO_SLUG = "demo"
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "shopops-demo"
DEMO_APP_NAME = "Demo storefront"


class Command(BaseCommand):
    help = (
        "Create the demo merchant, its owner login, a partner application, and each app's demo data "
        "(the seed() of <app>/demo.py). Running it again changes nothing."
    )

    # Not one transaction: the shipping demo books its parcels with a courier adapter, which is never called
    # inside a transaction; each seed() is idempotent, so a run that stopped half-way is completed by running
    # the command again.
    def handle(self, *args, **options):
        merchant = Merchant.objects.filter(slug=DEMO_SLUG).first() or merchant_create(
            name="Demo Store",
            slug=DEMO_SLUG,
            legal_name="Demo Store Private Limited",
            tax_id="29ABCDE1234F1Z5",
            email="ops@demo-store.example",
            phone="+918041234567",
            line1="12 MG Road",
            city="Bengaluru",
            state="Karnataka",
            postcode="560001",
            country="IN",
        )
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            user = User.objects.create_user(
                username=DEMO_USERNAME, email="owner@demo-store.example", password=DEMO_PASSWORD, is_staff=True
            )
        membership_add(merchant=merchant, user=user, role=Role.OWNER)

        app = PartnerApplication.objects.filter(merchant=merchant, name=DEMO_APP_NAME).first()
        secret = None
        if app is None:
            credentials = partner_application_create(merchant=merchant, name=DEMO_APP_NAME)
            app, secret = credentials.application, credentials.client_secret

        for app_config in apps.get_app_configs():
            if app_config.name != "shopops" and find_spec(f"{app_config.name}.demo") is not None:
                import_module(f"{app_config.name}.demo").seed(merchant=merchant, stdout=self.stdout)

        self.stdout.write(f"Demo merchant: {merchant.name} (slug {merchant.slug})")
        self.stdout.write(f"Demo login:    {DEMO_USERNAME} / {DEMO_PASSWORD}")
        self.stdout.write(f"Partner app:   client_id {app.client_id}")
        if secret:
            self.stdout.write(f"               client_secret {secret}  (shown once; stored hashed)")
        else:
            self.stdout.write(
                "               (secret shown when first created; make a new app with "
                f"`manage.py create_partner_app --merchant {merchant.slug} --name ...`)"
            )
