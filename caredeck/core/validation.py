"""Field checks shared by services that take free text from people and scripts."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError


def clean_text(name: str, value: Any, *, required: bool = True, limit: int = 20000) -> str:
    """Stripped text for field `name`, or a ValidationError on that field: not text, a
    NUL character (PostgreSQL refuses it: a 500 otherwise), missing, or too long."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({name: ["Give text."]})
    value = value.strip()
    if "\x00" in value:
        raise ValidationError({name: ["The text contains a NUL character."]})
    if required and not value:
        raise ValidationError({name: ["This field is required."]})
    if len(value) > limit:
        raise ValidationError({name: [f"At most {limit} characters."]})
    return value


def is_id(value: Any) -> bool:
    """A database id as a form or a script sends it: ASCII digits that fit a bigint
    ("²" is a digit to Python, and int() refuses it)."""
    text = str(value)
    return text.isascii() and text.isdigit() and len(text) < 19
