"""Checks on uploaded files, shared by every app that takes attachments.

Files are never served inline: views answer them as downloads (FileResponse with
as_attachment=True, and the nosniff header the security middleware adds), so an HTML or
SVG upload cannot run in the site's origin whatever its extension claims.
"""

from __future__ import annotations

import os

from django.core.exceptions import ValidationError


def checked_upload_name(
    upload, *, field: str, extensions: set[str], max_bytes: int, what: str
) -> str:
    """The file's safe base name, or a ValidationError on `field` for a type outside
    `extensions` or a file larger than `max_bytes`."""
    name = os.path.basename(upload.name or "")[:200]
    extension = os.path.splitext(name)[1].lower()
    if extension not in extensions:
        allowed = ", ".join(sorted(extensions))
        raise ValidationError({field: [f"Attach {what} ({allowed})."]})
    if upload.size > max_bytes:
        raise ValidationError({field: [f"At most {max_bytes // (1024 * 1024)} MB per file."]})
    return name
