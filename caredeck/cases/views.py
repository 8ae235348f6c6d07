"""Pages of Customer Care (being written: see the pages helper's brief)."""

from django.http import Http404


def _pending(request, *args, **kwargs):
    raise Http404("Not yet.")


case_list = case_new = case_queues = case_detail = case_action = case_attachment = _pending
kb_list = kb_new = kb_detail = kb_edit = hotfix_list = hotfix_new = hotfix_release = _pending
care_setup = _pending
