from django.core.management.base import BaseCommand, CommandError

from caredeck.accounts.models import User
from caredeck.accounts.services import token_create


class Command(BaseCommand):
    help = "Print a new API token for a user, and nothing else."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", default="command line")

    def handle(self, *args, email, name, **options):
        user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
        if user is None:
            raise CommandError(f"No active user with e-mail {email}.")
        _, raw = token_create(actor=user, name=name)
        self.stdout.write(raw)
