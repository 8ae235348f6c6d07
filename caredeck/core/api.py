"""API conventions shared by every app: pagination and the error shapes of API.md."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import slug_re
from django.http import Http404
from django.utils.encoding import smart_str
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from caredeck.core.exceptions import Conflict


class SlugRelatedField(serializers.SlugRelatedField):
    """DRF's field, but a value that is no slug names nothing: it is "does not exist"
    without a query (PostgreSQL would raise on a NUL byte: a 500 instead of a 400)."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or not slug_re.match(data):
            self.fail("does_not_exist", slug_name=self.slug_field, value=smart_str(data))
        return super().to_internal_value(data)


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 200


def _field_errors(exc: DjangoValidationError) -> dict:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): [str(m) for m in messages]
            for field, messages in exc.message_dict.items()
        }
    return {"non_field_errors": list(exc.messages)}


def exception_handler(exc, context):
    """DRF's handler, plus the exceptions services raise (see core/exceptions.py)."""
    if isinstance(exc, DjangoValidationError):
        return Response(_field_errors(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Conflict):
        return Response({"detail": exc.reason}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    return drf_exception_handler(exc, context)
