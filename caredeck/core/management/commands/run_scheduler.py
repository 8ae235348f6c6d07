from django.core.management.base import BaseCommand

from caredeck.core.scheduler import run_forever


class Command(BaseCommand):
    help = "Run the scheduler loop: enqueue what is due."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument("--tick", type=float, default=5.0)

    def handle(self, *args, once, tick, **options):
        run_forever(tick, max_ticks=1 if once else None)
