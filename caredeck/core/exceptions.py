"""Exceptions services raise; views and the API turn them into answers.

- django.core.exceptions.ValidationError (with a field dict) -> 400 / form errors
- django.core.exceptions.PermissionDenied -> 403 (the role forbids it)
- Conflict -> 409 (the object's state forbids it)
- django.http.Http404 -> 404 (not there, or another tenant's)
"""


class Conflict(Exception):
    """The object's current state does not allow the requested change."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
