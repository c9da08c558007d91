"""Sign in with a username or an 11-digit mobile number."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from portal.models import User

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")


class PhoneOrUsernameBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if not username or password is None:
            return None
        login = username.strip()
        if not PHONE_RE.match(login):
            return None
        user = User.objects.filter(phone=login).first()
        if user is None:
            User().set_password(password)  # same cost as a real check (timing)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
