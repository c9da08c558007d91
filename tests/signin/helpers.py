from __future__ import annotations

from django.test import Client


def signed_in_as(client: Client) -> int | None:
    """The user id the client's session is signed in as, or None."""
    value = client.session.get("_auth_user_id")
    return int(value) if value else None
