"""The sign-in accounts linked to a person, for their download (portal.privacy)."""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.models import SocialAccount
from django.utils import timezone

from portal.models import User
from portal.privacy import personal_data_section


@personal_data_section("linked_accounts")
def linked_accounts_section(user: User) -> list[dict[str, Any]]:
    return [
        {
            "provider": account.provider,
            "account_id": account.uid,
            "linked": timezone.localtime(account.date_joined).isoformat(timespec="seconds"),
        }
        for account in SocialAccount.objects.filter(user=user).order_by("provider")
    ]
