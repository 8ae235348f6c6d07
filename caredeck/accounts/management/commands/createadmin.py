from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from caredeck.accounts.services import platform_admin_ensure


class Command(BaseCommand):
    help = "Create a provider platform administrator (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", help="Without it, set one later by password reset.")
        parser.add_argument("--name", default="")

    def handle(self, *args, email, password, name, **options):
        try:
            user = platform_admin_ensure(email=email, name=name, password=password)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"Platform administrator {user.email} is ready.")
