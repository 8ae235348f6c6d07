import contextlib
import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from caredeck.core.scheduler import run_forever


class Command(BaseCommand):
    help = "Run the scheduler loop: enqueue what is due (one active process, by lease)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument(
            "--tick", type=float, default=None,
            help="Seconds between passes (default: CAREDECK_SCHEDULER_TICK_SECONDS or 5).",
        )

    def handle(self, *args, once, tick, **options):
        # A stop (SIGTERM from the supervisor or a service manager) unwinds the loop like
        # Ctrl-C, so the lease is released and a standby takes over at once, not after
        # the lease runs out.
        signal.signal(signal.SIGTERM, _stop)
        seconds = tick if tick is not None else settings.SCHEDULER_TICK_SECONDS
        with contextlib.suppress(KeyboardInterrupt):
            run_forever(seconds, max_ticks=1 if once else None)


def _stop(signum, frame):
    raise KeyboardInterrupt
