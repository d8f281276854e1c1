from django.core.management.base import BaseCommand, CommandError

from shopops.crypto import CredentialsUnreadable, encrypted_fields, rotate_field


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored credential with the newest key of SHOPOPS_CREDENTIALS_KEYS (the first). Run it "
        "after putting a new key first in the list; once it reports no row left on an old key, drop the old key."
    )

    def handle(self, *args, **options):
        total = 0
        for model, field in encrypted_fields():
            try:
                count = rotate_field(model, field)
            except CredentialsUnreadable as exc:
                raise CommandError(f"{model._meta.label}.{field}: {exc} Put the key it was written with back in "
                                   "SHOPOPS_CREDENTIALS_KEYS (after the new one) and run again.") from exc  # fmt: skip
            total += count
            self.stdout.write(f"{model._meta.label}.{field}: {count} re-encrypted")
        self.stdout.write(self.style.SUCCESS(f"{total} stored value(s) now encrypted with the newest key."))
