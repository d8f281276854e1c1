import sys
from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from orders.imports.jobs import import_create, import_run
from orders.models import ErrorPolicy, ImportKind
from shopops.models import Merchant


class Command(BaseCommand):
    help = "Import orders, products or inventory from a CSV or XLSX file, now, with the same service as /imports/."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--merchant", required=True, help="The merchant's slug.")
        parser.add_argument("--kind", required=True, choices=ImportKind.values)
        parser.add_argument("--dry-run", action="store_true", help="Check every row and write nothing.")
        parser.add_argument("--error-policy", choices=ErrorPolicy.values, default=ErrorPolicy.REJECT_FILE)

    def handle(self, *args, **options):
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        try:
            merchant = Merchant.objects.get(slug=options["merchant"])
        except Merchant.DoesNotExist as exc:
            raise CommandError(f"No merchant with slug {options['merchant']!r}.") from exc
        with path.open("rb") as fileobj:
            total = max(sum(1 for _ in fileobj) - 1, 0)  # data lines, for the progress bar
            fileobj.seek(0)
            job = import_create(merchant=merchant, kind=options["kind"], upload=File(fileobj),
                                        file_name=path.name, dry_run=options["dry_run"],
                                        error_policy=options["error_policy"], actor="system")  # fmt: skip
        job = import_run(job_id=job.pk, on_progress=lambda done: self._bar(done, total))
        sys.stderr.write("\n")
        self.stdout.write(
            f"Import {job.pk}: {job.status}; {job.processed_rows} rows read, {job.created_count} created, "
            f"{job.updated_count} updated, {job.skipped_count} rows skipped as existing, {job.failed_count} failed."
        )
        if job.error:
            self.stdout.write(job.error)
        for error in job.row_errors.all()[:20]:
            self.stdout.write(f"  row {error.row} {error.column}: {error.message} ({error.value!r})")

    @staticmethod
    def _bar(done: int, total: int) -> None:
        width, share = 40, (done / total if total else 1)
        filled = int(width * min(share, 1))
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} rows")
        sys.stderr.flush()
