"""Care reports (being written: see the reports helper's brief)."""

from django.http import Http404


def case_reports(request):
    raise Http404("Not yet.")
