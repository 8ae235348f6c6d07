"""Pages of notifications: the in-app inbox, one's channel choices, an organization's
webhooks and the provider's delivery dashboard.

Thin: parse with a form, call one service or selector, render (an htmx partial when
htmx asks) or redirect.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from caredeck.accounts.access import has_capability
from caredeck.accounts.roles import Capability
from caredeck.core.audit import audit_entries_for
from caredeck.core.exceptions import Conflict
from caredeck.notify import forms, selectors, services
from caredeck.notify.models import Channel, MessageStatus
from caredeck.web.forms import add_service_errors

PAGE_SIZE = 50


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, request.is_secure()
    ):
        return target
    return fallback


# --- In-app inbox ----------------------------------------------------------------------


def _inbox_context(request) -> dict:
    only_unread = request.GET.get("show") == "unread"
    notifications = selectors.inbox_of(request.user)
    if only_unread:
        notifications = notifications.filter(read_at__isnull=True)
    page = Paginator(notifications, PAGE_SIZE).get_page(request.GET.get("page"))
    return {
        "page": page,
        "only_unread": only_unread,
        "pager_query": "show=unread&" if only_unread else "",
    }


@login_required
def notification_list(request):
    return render(request, "notify/notification_list.html", _inbox_context(request))


@login_required
@require_POST
def notification_read(request, notification_id):
    notification = selectors.notification_get(request.user, notification_id)
    services.notification_mark_read(actor=request.user, notification=notification)
    if request.htmx:
        return render(
            request, "notify/_notification_read.html",
            {"n": notification},
        )
    return redirect(_safe_next(request, reverse("notification-list")))


@login_required
@require_POST
def notification_read_all(request):
    marked = services.notifications_mark_all_read(actor=request.user)
    if request.htmx:
        return render(request, "notify/_inbox.html", {**_inbox_context(request), "oob_bell": True})
    messages.success(
        request, f"Marked {marked} notification{'s' if marked != 1 else ''} read."
    )
    return redirect("notification-list")


# --- Subscriptions ---------------------------------------------------------------------


@login_required
def notification_settings(request):
    rows = selectors.subscriptions_of(request.user)
    form = forms.SubscriptionsForm(request.POST or None, rows=rows)
    if request.method == "POST" and form.is_valid():
        event = None
        try:
            with transaction.atomic():
                for event, channels in form.changed_choices().items():
                    services.subscription_set(actor=request.user, event=event, channels=channels)
        except ValidationError as exc:
            # The service's field is "channels" or "event"; here each event is a field.
            for message in exc.messages:
                form.add_error(event if event in form.fields else None, message)
        else:
            messages.success(request, "Saved. New notifications follow your choices.")
            return redirect("notification-settings")
    return render(
        request, "notify/notification_settings.html",
        {
            "form": form,
            "channel_choices": [
                (value, label) for value, label in Channel.choices
                if any(value in row.channels for row in rows)
            ],
            "can_manage_webhooks": has_capability(
                request.user, Capability.MANAGE_WEBHOOKS, request.tenant
            ),
        },
    )


# --- Webhooks --------------------------------------------------------------------------


@login_required
def webhook_list(request):
    organization = request.tenant
    endpoints = selectors.webhooks_of(request.user, organization)
    form = forms.WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.webhook_create(
                actor=request.user, organization=organization, **form.cleaned_data
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                f"Webhook “{endpoint.name}” added. Send a test to check that it arrives.",
            )
            return redirect("webhook-detail", endpoint.pk)
    return render(
        request, "notify/webhook_list.html",
        {"organization": organization, "endpoints": endpoints, "form": form},
    )


@login_required
def webhook_detail(request, webhook_id):
    endpoint = selectors.webhook_get(request.user, webhook_id)
    initial = {
        "name": endpoint.name, "url": endpoint.url, "format": endpoint.format,
        "events": endpoint.events, "is_active": endpoint.is_active,
    }
    form = forms.WebhookForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            services.webhook_update(actor=request.user, endpoint=endpoint, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("webhook-detail", endpoint.pk)
    deliveries = Paginator(selectors.webhook_deliveries(endpoint), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request, "notify/webhook_detail.html",
        {
            "endpoint": endpoint,
            "form": form,
            "page": deliveries,
            "can_see_deliveries": has_capability(request.user, Capability.VIEW_DELIVERIES),
            "history": audit_entries_for(endpoint)[:20],
            "history_url": reverse("history", args=["webhook", endpoint.pk]),
        },
    )


@login_required
@require_POST
def webhook_test(request, webhook_id):
    endpoint = selectors.webhook_get(request.user, webhook_id)
    services.webhook_test(actor=request.user, endpoint=endpoint)
    messages.success(
        request, "Test message queued. Its delivery shows in the log below within a minute."
    )
    return redirect("webhook-detail", endpoint.pk)


@login_required
@require_POST
def webhook_rotate_secret(request, webhook_id):
    endpoint = selectors.webhook_get(request.user, webhook_id)
    services.webhook_update(actor=request.user, endpoint=endpoint, rotate_secret=True)
    messages.success(
        request, "New secret made. Update your receiver: the old one no longer signs anything."
    )
    return redirect("webhook-detail", endpoint.pk)


@login_required
@require_POST
def webhook_delete(request, webhook_id):
    endpoint = selectors.webhook_get(request.user, webhook_id)
    name = endpoint.name
    services.webhook_delete(actor=request.user, endpoint=endpoint)
    messages.success(request, f"Webhook “{name}” deleted.")
    return redirect("webhook-list")


# --- Delivery dashboard ----------------------------------------------------------------


def _require_deliveries(request) -> None:
    if not has_capability(request.user, Capability.VIEW_DELIVERIES):
        raise PermissionDenied


@login_required
def delivery_list(request):
    _require_deliveries(request)
    visible = selectors.messages_visible(request.user)
    filters = forms.DeliveryFilterForm(request.GET or None)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    listed = visible
    if chosen.get("status"):
        listed = listed.filter(status=chosen["status"])
    if chosen.get("channel"):
        listed = listed.filter(channel=chosen["channel"])
    page = Paginator(listed, PAGE_SIZE).get_page(request.GET.get("page"))
    pager_query = "".join(
        f"{key}={chosen[key]}&" for key in ("status", "channel") if chosen.get(key)
    )
    return render(
        request, "notify/delivery_list.html",
        {
            "summary": selectors.outbox_summary(visible),
            "statuses": MessageStatus.choices,
            "filters": filters,
            "status": chosen.get("status", ""),
            "channel": chosen.get("channel", ""),
            "page": page,
            "pager_query": pager_query,
            "retryable": {MessageStatus.FAILED.value, MessageStatus.DEAD.value},
            "now": timezone.now(),
        },
    )


@login_required
def delivery_detail(request, message_id):
    message = selectors.message_get(request.user, message_id)
    return render(
        request, "notify/delivery_detail.html",
        {
            "message": message,
            "deliveries": message.webhook_deliveries.all()[:100],
            "retryable": message.status in (MessageStatus.FAILED, MessageStatus.DEAD),
            "history": audit_entries_for(message)[:30],
            "history_url": reverse("history", args=["message", message.pk]),
        },
    )


@login_required
@require_POST
def delivery_retry(request, message_id):
    message = selectors.message_get(request.user, message_id)
    fallback = reverse("delivery-detail", args=[message.pk])
    try:
        services.message_retry_now(actor=request.user, message=message)
    except Conflict as exc:
        messages.error(request, exc.reason)
    else:
        messages.success(request, f"Message {message.pk} queued again; a worker sends it now.")
    return redirect(_safe_next(request, fallback))
