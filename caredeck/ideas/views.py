"""Pages of the Ideas Lab: the lab per product (sorted, filtered, searched, with a vote
button on every row), the roadmap, submitting with likely duplicates suggested, an idea's
page (updates, comments and work-arounds, the PM clock, and the product manager's
transition, update, merge and moderation forms) and vote grants.

Thin: parse with a form, call one service or selector, render (the row partial when htmx
asks) or redirect. Ideas are shared by every tenant that uses the product; anyone else
gets 404. A role that may not act gets 403 (and never sees the button). A refused change
re-renders the page with the error beside the field, or says why in a message.
"""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_POST

from caredeck.accounts.access import has_capability
from caredeck.accounts.models import User
from caredeck.accounts.roles import Capability
from caredeck.core.audit import audit_entries_for
from caredeck.core.exceptions import Conflict
from caredeck.ideas import forms, selectors, services
from caredeck.ideas.models import (
    ROADMAP,
    VOTABLE,
    Comment,
    CommentMark,
    IdeaStatus,
    IdeaSubscription,
    Vote,
    VoteGrant,
)
from caredeck.ideas.selectors import labs_visible
from caredeck.ideas.similar import similar_ideas, title_words
from caredeck.web.forms import add_service_errors

PER_PAGE = 25
COMMENTS_PER_PAGE = 50
GRANTS_PER_PAGE = 50
# Ideas shown per roadmap column; the rest are one click away in the filtered lab.
ROADMAP_COLUMN = 50
SORT_LABELS = [("votes", "Most votes"), ("newest", "Newest"), ("trending", "Trending")]
SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]{1,50}$")
# How many merges a redirect follows to reach the surviving idea.
MERGE_HOPS = 10


def _can_manage(user) -> bool:
    return has_capability(user, Capability.MANAGE_IDEAS)


def _require_manage(request) -> None:
    if not _can_manage(request.user):
        raise PermissionDenied("Your roles do not allow this (managing ideas).")


def _clean(value, limit: int = 100) -> str:
    return str(value or "").replace("\x00", "").strip()[:limit]


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, request.is_secure()
    ):
        return target
    return fallback


def _detail_url(idea, anchor: str = "") -> str:
    return reverse("idea-detail", args=[idea.number]) + (f"#{anchor}" if anchor else "")


def _budget_text(budget: dict) -> str:
    return f"{budget['available']} of {budget['budget']} votes left"


# Who may see an anonymous idea's organization: one rule, in the selectors.
_Viewer = selectors.AuthorRule


def _comment_counts(ideas):
    """Each idea's comment count in the same query (a subquery: no join that would
    multiply the trending vote count)."""
    counted = (
        Comment.objects.filter(idea=OuterRef("pk")).order_by().values("idea")
        .annotate(n=Count("pk")).values("n")
    )
    return ideas.annotate(
        comment_count=Coalesce(Subquery(counted, output_field=IntegerField()), 0)
    )


def _decorate(user, ideas, viewer: _Viewer | None = None) -> list:
    """Rows for the lab: whether the user voted, and the author as this viewer sees it
    (one query for the votes, whatever the number of rows)."""
    ideas = list(ideas)
    viewer = viewer or _Viewer(user)
    voted = selectors.voted_ideas(user, [i.pk for i in ideas])
    for idea in ideas:
        idea.voted = idea.pk in voted
        idea.author_shown = viewer.author_of(idea)
        idea.takes_votes = idea.status in VOTABLE
    return ideas


# --- The lab ---------------------------------------------------------------------------


def _lab_products(user) -> list:
    return list(labs_visible(user).order_by("name"))


def _chosen_product(request, products):
    """The product of ?product= among those the user sees (404 otherwise), or the first."""
    slug = _clean(request.GET.get("product"), 60)
    if slug:
        for product in products:
            if product.slug == slug:
                return product
        raise Http404("No such product.")
    return products[0] if products else None


@login_required
@require_GET
def idea_list(request):
    user = request.user
    products = _lab_products(user)
    product = _chosen_product(request, products)
    sort = request.GET.get("sort", "votes")
    if sort not in selectors.SORTS:
        sort = "votes"
    status = request.GET.get("status", "")
    if status not in IdeaStatus.values:
        status = ""
    q = _clean(request.GET.get("q"))
    if product is None:
        page = Paginator([], PER_PAGE).get_page(1)
    else:
        ideas = _comment_counts(
            selectors.ideas_list(user, product=product, status=status, q=q, sort=sort)
        )
        page = Paginator(ideas, PER_PAGE).get_page(request.GET.get("page"))
    rows = _decorate(user, page.object_list)
    kept = {k: v for k, v in
            {"product": product.slug if product else "", "status": status, "q": q}.items() if v}
    return render(request, "ideas/idea_list.html", {
        "products": products, "product": product, "page": page, "rows": rows, "sort": sort,
        "sort_links": [(value, label, "?" + urlencode({**kept, "sort": value}))
                       for value, label in SORT_LABELS],
        "pager_query": urlencode({**kept, "sort": sort}) + "&",
        "status": status, "status_label": IdeaStatus(status).label if status else "",
        "statuses": IdeaStatus.choices, "q": q,
        "budget": selectors.vote_budget(user), "next": request.get_full_path(),
        "can_grant": has_capability(user, Capability.GRANT_VOTES),
        "can_manage": _can_manage(user), "filtered": bool(status or q),
    })


@login_required
@require_GET
def idea_roadmap(request):
    user = request.user
    products = _lab_products(user)
    product = _chosen_product(request, products)
    columns = []
    if product is not None:
        ideas = selectors.ideas_visible(user).filter(product=product)
        counts = dict(
            ideas.filter(status__in=ROADMAP).order_by().values_list("status")
            .annotate(n=Count("pk"))
        )
        orders = {
            IdeaStatus.ACCEPTED: ("target_quarter", "-votes", "-pk"),
            IdeaStatus.IN_DEVELOPMENT: ("-votes", "-pk"),
            IdeaStatus.DELIVERED: ("-delivered_at", "-pk"),
        }
        for status in ROADMAP:
            shown = list(ideas.filter(status=status).order_by(*orders[status])[:ROADMAP_COLUMN])
            columns.append({
                "status": status, "label": IdeaStatus(status).label, "ideas": shown,
                "count": counts.get(status, 0),
            })
    return render(request, "ideas/idea_roadmap.html", {
        "products": products, "product": product, "columns": columns,
        "budget": selectors.vote_budget(user),
    })


# --- Submitting ------------------------------------------------------------------------


@login_required
def idea_new(request):
    user = request.user
    products = labs_visible(user).filter(is_active=True).order_by("name")
    initial = {}
    wanted = _clean(request.GET.get("product"), 60)
    if wanted and SLUG_RE.match(wanted):
        initial["product"] = wanted
    form = forms.IdeaForm(request.POST or None, products=products, initial=initial)
    similar = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        # Likely duplicates are shown before saving: as the title is typed (htmx), or
        # here once more for a browser without JavaScript. Seen once, submit goes through.
        if not request.POST.get("similar_seen"):
            similar = similar_ideas(user, data["title"], product=data["product"])
        if not similar:
            try:
                idea = services.idea_submit(
                    actor=user, product=data["product"], title=data["title"],
                    description=data["description"], anonymous=data["anonymous"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"{idea.number} submitted. It spent none of your "
                                 "votes: vote for it too if it matters to you.")
                return redirect("idea-detail", idea.number)
    return render(request, "ideas/idea_form.html", {
        "form": form, "similar": similar, "similar_checked": bool(similar),
        "has_products": products.exists(), "budget": selectors.vote_budget(user),
    })


@login_required
@require_GET
def idea_similar(request):
    """The likely duplicates of a title being typed (an htmx partial)."""
    user = request.user
    title = _clean(request.GET.get("title"), 200)
    slug = _clean(request.GET.get("product"), 60)
    product = labs_visible(user).filter(slug=slug).first() if SLUG_RE.match(slug) \
        else None
    return render(request, "ideas/_similar.html", {
        "similar": similar_ideas(user, title, product=product),
        "similar_checked": bool(title_words(title)),
    })


# --- An idea's page --------------------------------------------------------------------


def _survivor(user, idea):
    """The visible idea a merged one lives on in (following merges of merges)."""
    current = idea
    for _ in range(MERGE_HOPS):
        if current.status != IdeaStatus.MERGED or not current.merged_into_id:
            return current if current is not idea else None
        following = selectors.ideas_visible(user).filter(pk=current.merged_into_id).first()
        if following is None:
            return None
        current = following
    return current


def _comments_context(request, idea, bad: dict | None = None) -> dict:
    """Work-arounds at the top, then every comment in order (a page at a time), each with
    the reader's own marks and, for moderators, the report count. `bad` holds a bound
    form with errors for one comment: {"comment_id", "kind", "form"}."""
    user = request.user
    comments = idea.comments.select_related("author", "organization", "hidden_by").annotate(
        helpful=Count("marks", filter=Q(marks__kind=CommentMark.Kind.HELPFUL)),
        reports=Count("marks", filter=Q(marks__kind=CommentMark.Kind.REPORT)),
    )
    workarounds = list(comments.filter(workaround=True, hidden_at__isnull=True))
    others = comments.exclude(workaround=True, hidden_at__isnull=True).order_by(
        "created_at", "pk")
    page = Paginator(others, COMMENTS_PER_PAGE).get_page(request.GET.get("comments_page"))
    shown = workarounds + list(page.object_list)
    mine = set(
        CommentMark.objects.filter(user=user, comment__in=[c.pk for c in shown])
        .values_list("comment_id", "kind")
    )
    bad = bad or {}
    for c in shown:
        c.own = c.author_id == user.pk
        c.my_helpful = (c.pk, CommentMark.Kind.HELPFUL) in mine
        c.my_report = (c.pk, CommentMark.Kind.REPORT) in mine
        c.report_form = forms.ReportForm(auto_id=f"report{c.pk}_%s")
        c.hide_form = forms.HideForm(auto_id=f"hide{c.pk}_%s")
        c.form_open = ""
        if bad.get("comment_id") == c.pk:
            setattr(c, f"{bad['kind']}_form", bad["form"])
            c.form_open = bad["kind"]
    return {"workarounds": workarounds, "comments_page": page,
            "comments": list(page.object_list)}


def _detail_context(request, idea, **extra) -> dict:
    user = request.user
    can_manage = _can_manage(user)
    status_moves = services.TRANSITIONS.get(idea.status, frozenset())
    open_idea = idea.status not in services.RETURNS_VOTES
    viewer = _Viewer(user)
    context = {
        "idea": idea,
        "author_shown": viewer.author_of(idea),
        "staff": viewer.sees_all,
        "can_manage": can_manage,
        "budget": selectors.vote_budget(user),
        "voted": Vote.objects.filter(idea=idea, user=user, returned_at__isnull=True).exists(),
        "takes_votes": idea.status in VOTABLE,
        "following": IdeaSubscription.objects.filter(idea=idea, user=user).exists(),
        "updates": list(idea.updates.select_related("author").order_by("-created_at", "-pk")),
        "merged_here": list(idea.merged_ideas.only("number", "title").order_by("pk")),
        "comment_form": forms.CommentForm(auto_id="cm_%s"),
        "next": reverse("idea-detail", args=[idea.number]),
    }
    context.update(_comments_context(request, idea, extra.pop("bad_comment", None)))
    if can_manage:
        if status_moves:
            context["transition_form"] = forms.TransitionForm(statuses=status_moves,
                                                              auto_id="tr_%s")
        if open_idea:
            context["update_form"] = forms.UpdateForm(auto_id="up_%s")
            context["merge_form"] = forms.MergeForm(auto_id="mg_%s")
    if has_capability(user, Capability.SERVE_ALL_TENANTS):
        context["history"] = audit_entries_for(idea)[:20]
        context["history_url"] = reverse("history", args=["idea", idea.number])
    context.update(extra)
    return context


def _render_detail(request, idea, status: int = 200, **extra):
    return render(request, "ideas/idea_detail.html", _detail_context(request, idea, **extra),
                  status=status)


@login_required
@require_GET
def idea_detail(request, number):
    idea = selectors.idea_get(request.user, number)
    if idea.status == IdeaStatus.MERGED:
        survivor = _survivor(request.user, idea)
        if survivor is not None:
            messages.info(request, f"{idea.number} “{idea.title}” was merged into "
                          f"{survivor.number}: its votes, comments and followers are here.")
            return redirect("idea-detail", survivor.number)
    return _render_detail(request, idea)


# --- Votes and following ---------------------------------------------------------------


def _row_response(request, idea, *, done: str = "", error: str = ""):
    """The lab row again (status and count may have moved) and the budget badge."""
    user = request.user
    row = _comment_counts(
        selectors.ideas_visible(user).select_related("product", "organization")
    ).get(pk=idea.pk)
    row = _decorate(user, [row])[0]
    return render(request, "ideas/_vote_response.html", {
        "idea": row, "done": done, "error": error, "budget": selectors.vote_budget(user),
        "next": _safe_next(request, reverse("idea-list")),
    })


def _vote(request, number, *, cast: bool):
    user = request.user
    idea = selectors.idea_get(user, number)
    before = idea.status
    done = error = ""
    try:
        if cast:
            idea = services.vote_cast(actor=user, idea=idea)
        else:
            idea = services.vote_withdraw(actor=user, idea=idea)
    except Conflict as exc:
        error = exc.reason
    else:
        left = _budget_text(selectors.vote_budget(user))
        done = (f"Voted for {idea.number}: {left}." if cast
                else f"Vote taken back from {idea.number}: {left}.")
        if before != idea.status == IdeaStatus.UNDER_PM_REVIEW:
            done += (f" It reached the threshold of {idea.product.vote_threshold} votes: a "
                     f"product manager answers by {idea.pm_answer_due_at:%Y-%m-%d}.")
    if request.htmx:
        return _row_response(request, idea, done=done, error=error)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect(_safe_next(request, _detail_url(idea)))


@login_required
@require_POST
def idea_vote(request, number):
    return _vote(request, number, cast=True)


@login_required
@require_POST
def idea_unvote(request, number):
    return _vote(request, number, cast=False)


@login_required
@require_POST
def idea_follow(request, number):
    idea = selectors.idea_get(request.user, number)
    follow = request.POST.get("follow", "1") != "0"
    services.idea_follow(actor=request.user, idea=idea, follow=follow)
    messages.success(request, f"You follow {idea.number}: you hear of comments and status "
                     "changes." if follow else f"You no longer follow {idea.number}.")
    return redirect(_detail_url(idea))


# --- Comments --------------------------------------------------------------------------


def _comment_get(idea, comment_id) -> Comment:
    comment = idea.comments.select_related("idea", "author").filter(pk=comment_id).first()
    if comment is None:
        raise Http404("No such comment.")
    return comment


@login_required
@require_POST
def idea_comment(request, number):
    idea = selectors.idea_get(request.user, number)
    form = forms.CommentForm(request.POST, auto_id="cm_%s")
    if form.is_valid():
        try:
            comment = services.comment_add(actor=request.user, idea=idea,
                                           **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.reason)
        else:
            messages.success(request, "Work-around posted: it is shown at the top."
                             if comment.workaround else "Comment posted.")
            return redirect(_detail_url(idea, f"comment-{comment.pk}"))
    return _render_detail(request, idea, status=400, comment_form=form)


@login_required
@require_POST
def idea_comment_mark(request, number, comment_id):
    idea = selectors.idea_get(request.user, number)
    comment = _comment_get(idea, comment_id)
    kind = request.POST.get("kind", "")
    reason = ""
    if kind == CommentMark.Kind.REPORT:
        form = forms.ReportForm(request.POST, auto_id=f"report{comment.pk}_%s")
        if not form.is_valid():
            return _render_detail(request, idea, status=400, bad_comment={
                "comment_id": comment.pk, "kind": "report", "form": form})
        reason = form.cleaned_data["reason"]
    try:
        services.comment_mark(actor=request.user, comment=comment, kind=kind, reason=reason)
    except (Conflict, ValidationError) as exc:
        messages.error(request, exc.reason if isinstance(exc, Conflict)
                       else " ".join(exc.messages))
    else:
        messages.success(request, "Marked helpful: thank you." if kind == "helpful" else
                         "Reported: a moderator will look at it.")
    return redirect(_detail_url(idea, f"comment-{comment.pk}"))


@login_required
@require_POST
def idea_comment_hide(request, number, comment_id):
    idea = selectors.idea_get(request.user, number)
    comment = _comment_get(idea, comment_id)
    _require_manage(request)
    form = forms.HideForm(request.POST, auto_id=f"hide{comment.pk}_%s")
    if form.is_valid():
        try:
            services.comment_hide(actor=request.user, comment=comment,
                                  reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            messages.error(request, exc.reason)
            return redirect(_detail_url(idea, f"comment-{comment.pk}"))
        else:
            messages.success(request, "Comment hidden; its author is told why.")
            return redirect(_detail_url(idea, f"comment-{comment.pk}"))
    return _render_detail(request, idea, status=400, bad_comment={
        "comment_id": comment.pk, "kind": "hide", "form": form})


# --- The product manager's actions -----------------------------------------------------


@login_required
@require_POST
def idea_transition(request, number):
    idea = selectors.idea_get(request.user, number)
    _require_manage(request)
    moves = services.TRANSITIONS.get(idea.status, frozenset())
    if not moves:
        messages.error(request, f"{idea.number} is {idea.get_status_display().lower()}: "
                       "its status no longer changes.")
        return redirect(_detail_url(idea))
    form = forms.TransitionForm(request.POST, statuses=moves, auto_id="tr_%s")
    if form.is_valid():
        before_votes = idea.votes
        try:
            idea = services.idea_transition(actor=request.user, idea=idea, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.reason)
        else:
            done = f"{idea.number} is now {idea.get_status_display().lower()}."
            if idea.status in services.RETURNS_VOTES and before_votes:
                done += f" {idea.closing_votes} vote(s) went back to their voters."
            messages.success(request, done)
            return redirect(_detail_url(idea))
    return _render_detail(request, idea, status=400, transition_form=form)


@login_required
@require_POST
def idea_update(request, number):
    idea = selectors.idea_get(request.user, number)
    _require_manage(request)
    form = forms.UpdateForm(request.POST, auto_id="up_%s")
    if form.is_valid():
        try:
            services.idea_update_post(actor=request.user, idea=idea, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.reason)
        else:
            messages.success(request, "Update posted; voters and followers are told.")
            return redirect(_detail_url(idea))
    return _render_detail(request, idea, status=400, update_form=form)


@login_required
@require_POST
def idea_merge(request, number):
    user = request.user
    idea = selectors.idea_get(user, number)
    _require_manage(request)
    form = forms.MergeForm(request.POST, auto_id="mg_%s")
    if form.is_valid():
        into = selectors.ideas_visible(user).filter(number=form.cleaned_data["into"]).first()
        if into is None:
            form.add_error("into", "No idea has this number.")
        else:
            try:
                idea = services.idea_merge(actor=user, idea=idea, into=into,
                                           message=form.cleaned_data["message"])
            except ValidationError as exc:
                add_service_errors(form, exc)
            except Conflict as exc:
                form.add_error(None, exc.reason)
            else:
                messages.success(request, f"{idea.number} merged into {into.number}: "
                                 f"{idea.closing_votes} vote(s) came along, without "
                                 "double counting.")
                return redirect("idea-detail", into.number)
    return _render_detail(request, idea, status=400, merge_form=form)


# --- Vote grants -----------------------------------------------------------------------


@login_required
def idea_grants(request):
    user = request.user
    if not has_capability(user, Capability.GRANT_VOTES):
        raise PermissionDenied("Your roles do not allow this (granting votes).")
    form = forms.GrantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        target = User.objects.filter(email__iexact=data["email"]).first()
        if target is None:
            form.add_error("email", "No user has this e-mail address.")
        else:
            try:
                services.vote_grant(actor=user, user=target, amount=data["amount"],
                                    reason=data["reason"])
            except ValidationError as exc:
                add_service_errors(form, _user_errors_to_email(exc))
            else:
                left = _budget_text(selectors.vote_budget(target))
                messages.success(request, f"{data['amount']} vote(s) granted to "
                                 f"{target.email}: {left}.")
                return redirect("idea-grants")
    grants = VoteGrant.objects.select_related("user__organization", "granted_by").order_by(
        "-created_at", "-pk")
    page = Paginator(grants, GRANTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "ideas/idea_grants.html", {"form": form, "page": page})


def _user_errors_to_email(exc: ValidationError) -> ValidationError:
    """The service names the person `user`; the form's field is `email`."""
    if not hasattr(exc, "error_dict"):
        return exc
    return ValidationError({("email" if k == "user" else k): v
                            for k, v in exc.message_dict.items()})
