"""Pages of the Ideas Lab (being built: see the helper's work)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from caredeck.ideas import selectors


@login_required
def idea_detail(request, number):
    idea = selectors.idea_get(request.user, number)
    return render(request, "ideas/idea_detail.html", {"idea": idea})
