"""A tenant's Atom feed: its incidents (with its own impact text and the public updates)
and the maintenance windows that concern it.

Served without sign-in, because feed readers cannot sign in: the token in the URL names
the tenant and is the only key (status/services.py renews it). A wrong token is 404.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape, linebreaks

from caredeck.status.selectors import FeedEntry, feed_entries, feed_token_of


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _paragraphs(text: str) -> str:
    return linebreaks(text, autoescape=True)


class TenantStatusFeed(Feed):
    feed_type = Atom1Feed

    def get_object(self, request, token):
        return feed_token_of(token).organization

    def title(self, obj) -> str:
        return f"Status of {obj.name}"

    def subtitle(self, obj) -> str:
        return f"Incidents and maintenance windows that concern {obj.name}."

    def link(self, obj) -> str:
        return reverse("status")

    def author_name(self, obj) -> str:
        return "CareDeck"

    def items(self, obj) -> list[FeedEntry]:
        return feed_entries(obj)

    def item_title(self, item: FeedEntry) -> str:
        if item.kind == "incident":
            return f"{item.number} {item.title} · {item.status_label} ({item.severity_label})"
        return f"{item.number} Maintenance: {item.title} · {item.status_label}"

    def item_description(self, item: FeedEntry) -> str:
        # Atom's summary is HTML here: everything written by people is escaped first.
        parts = []
        if item.kind == "maintenance":
            parts.append(
                f"<p>Window: {_utc(item.starts_at)} – {_utc(item.ends_at)}</p>"
            )
        if item.impact:
            parts.append(f"<p><strong>What you may notice:</strong></p>{_paragraphs(item.impact)}")
        for update in reversed(item.updates):
            parts.append(
                f"<p><strong>{escape(update['status'])}</strong> · "
                f"{_utc(update['created_at'])}</p>{_paragraphs(update['body'])}"
            )
        return "".join(parts)

    def item_link(self, item: FeedEntry) -> str:
        name = "incident-detail" if item.kind == "incident" else "maintenance-detail"
        return reverse(name, args=[item.number])

    def item_guid(self, item: FeedEntry) -> str:
        return f"urn:caredeck:{item.number}"

    def item_guid_is_permalink(self, item: FeedEntry) -> bool:
        return False

    def item_updateddate(self, item: FeedEntry):
        return item.updated

    def item_pubdate(self, item: FeedEntry):
        return item.published
