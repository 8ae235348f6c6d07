from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from caredeck.core.models import SchedulerLease
from caredeck.core.scheduler import next_due_of, tick


class Command(BaseCommand):
    help = "The schedule table: `schedule list` shows every entry and its next due time."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "tick"])

    def handle(self, *args, action, **options):
        from caredeck.schedule import SCHEDULE

        if action == "tick":
            counts = tick("manual-tick")
            if counts is None:
                raise CommandError("Another scheduler holds the lease; nothing was run.")
            for name, count in counts.items():
                self.stdout.write(f"{name}: enqueued {count}")
            return
        now = timezone.now()
        width = max(len(e.name) for e in SCHEDULE)
        self.stdout.write(f"{'entry'.ljust(width)}  {'kind':<13}  next due (UTC)")
        for entry in SCHEDULE:
            due = next_due_of(entry)
            kind = f"every {int(entry.every.total_seconds())}s" if entry.every else "due times"
            if due is None:
                when = "nothing due"
            elif due <= now:
                when = f"now (due since {due:%Y-%m-%d %H:%M:%S})"
            else:
                when = f"{due:%Y-%m-%d %H:%M:%S}"
            self.stdout.write(f"{entry.name.ljust(width)}  {kind:<13}  {when}")
            self.stdout.write(f"{''.ljust(width)}  {entry.description}")
        lease = SchedulerLease.objects.filter(name="scheduler").first()
        if lease and lease.expires_at > now:
            self.stdout.write(
                f"\nActive scheduler: {lease.holder} (lease until {lease.expires_at:%H:%M:%S})"
            )
        else:
            self.stdout.write("\nNo scheduler is active.")
