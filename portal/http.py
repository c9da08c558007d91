"""Small helpers shared by the views of every app."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from portal.models import User


def request_user(request: HttpRequest) -> User:
    """The signed-in user, typed (views run behind ``login_required``)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user
