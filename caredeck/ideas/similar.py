"""Likely duplicates of an idea being written: open ideas whose titles share words with
the new title. Called by the submission page while the title is typed (and once more
before saving), so people vote for an existing idea instead of splitting the votes.

Matching is plain word overlap on titles: lower-cased words of three letters or more,
minus common words, with a trailing plural "s" dropped. The database narrows the
candidates (any shared word in the title); the overlap is scored here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Q

from caredeck.ideas.models import VOTABLE, Idea
from caredeck.ideas.selectors import ideas_visible

WORD_RE = re.compile(r"[^\W_]+")
STOPWORDS = frozenset({
    "the", "and", "for", "with", "from", "into", "that", "this", "when", "where", "which",
    "while", "what", "who", "how", "why", "can", "could", "should", "would", "will", "let",
    "lets", "allow", "allows", "able", "have", "has", "had", "are", "was", "were", "been",
    "not", "but", "all", "any", "our", "your", "their", "them", "they", "its", "more", "less",
    "per", "via", "use", "using", "new", "add", "adding", "option", "options", "please",
    "need", "needs", "want", "wants", "make", "makes", "support"
})
# How many candidate rows the database may hand over for scoring.
CANDIDATES = 200
# Share of the shorter title's words the two must share to be suggested.
MIN_SHARE = 0.5


@dataclass(frozen=True)
class Similar:
    idea: Idea
    shared: tuple[str, ...]
    score: float


def title_words(title: str) -> list[str]:
    """The significant words of a title, in order, without repeats."""
    words: list[str] = []
    for raw in WORD_RE.findall(str(title or "").lower()):
        if len(raw) < 3 or raw in STOPWORDS or raw.isdigit():
            continue
        word = raw[:-1] if len(raw) > 3 and raw.endswith("s") and not raw.endswith("ss") \
            else raw
        if word not in words:
            words.append(word)
    return words[:12]


def similar_ideas(user, title: str, *, product=None, limit: int = 5) -> list[Similar]:
    """Open ideas the user can see (of `product` when given) whose titles overlap the
    given title, best first."""
    words = title_words(title)
    if not words:
        return []
    match = Q()
    for word in words:
        match |= Q(title__icontains=word)
    ideas = ideas_visible(user).filter(status__in=VOTABLE).filter(match)
    if product is not None:
        ideas = ideas.filter(product=product)
    candidates = (
        ideas.select_related("product")
        .only("pk", "number", "title", "votes", "status", "product__name", "product__slug")
        .order_by("-votes", "-pk")[:CANDIDATES]
    )
    wanted = set(words)
    found: list[Similar] = []
    for idea in candidates:
        theirs = set(title_words(idea.title))
        shared = tuple(w for w in words if w in theirs)
        if not shared:
            continue
        score = len(shared) / len(wanted | theirs)
        # Two shared words, or half the words of the shorter title.
        if len(shared) >= 2 or len(shared) / min(len(wanted), len(theirs)) >= MIN_SHARE:
            found.append(Similar(idea=idea, shared=shared, score=score))
    found.sort(key=lambda s: (-s.score, -s.idea.votes, -s.idea.pk))
    return found[:limit]
