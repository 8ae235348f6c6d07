from django.core.management.base import BaseCommand

from caredeck.web.demo import DEMO_PASSWORD, load_demo


class Command(BaseCommand):
    help = "Load the demo data set (idempotent) and print the log-ins."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, base_url, **options):
        logins = load_demo()
        width = max(len(login.email) for login in logins)
        self.stdout.write("")
        self.stdout.write(f"CareDeck demo is starting at {base_url}/")
        self.stdout.write(f"Every log-in below has the password: {DEMO_PASSWORD}")
        for login in logins:
            self.stdout.write(f"  {login.email.ljust(width)}  {login.role}")
        self.stdout.write("Stop with Ctrl-C.")
        self.stdout.write("")
