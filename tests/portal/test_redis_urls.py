"""One Redis server, several deployments: REDIS_URL's database number is honoured and the
portal's four logical databases follow it (issue 12, item 7)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.settings import _redis_db


@pytest.mark.parametrize(
    ("url", "offset", "expected"),
    [
        ("redis://127.0.0.1:6379/0", 2, "redis://127.0.0.1:6379/2"),
        ("redis://127.0.0.1:6379", 1, "redis://127.0.0.1:6379/1"),
        ("redis://127.0.0.1:6379/", 3, "redis://127.0.0.1:6379/3"),
        ("redis://redis:6379/4", 0, "redis://redis:6379/4"),  # a second deployment: 4–7
        ("redis://redis:6379/4", 3, "redis://redis:6379/7"),
        (
            "redis://:secret@redis:6379/8?health_check_interval=30",
            1,
            "redis://:secret@redis:6379/9?health_check_interval=30",
        ),
        ("rediss://redis.example:6380/0", 2, "rediss://redis.example:6380/2"),
    ],
)
def test_the_logical_databases_follow_the_url(url: str, offset: int, expected: str) -> None:
    assert _redis_db(url, offset) == expected


def test_a_path_that_is_not_a_database_number_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured):
        _redis_db("redis://127.0.0.1:6379/cache", 2)
