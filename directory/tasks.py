"""Celery tasks of the directory: ids in, one service call."""

from __future__ import annotations

from celery import shared_task


@shared_task(
    name="directory.upload_check", ignore_result=True, time_limit=1800, soft_time_limit=1700
)
def directory_upload_check_task(import_id: int) -> None:
    from directory.services import directory_upload_run

    directory_upload_run(import_id=import_id, apply=False)


@shared_task(
    name="directory.upload_apply", ignore_result=True, time_limit=1800, soft_time_limit=1700
)
def directory_upload_apply_task(import_id: int) -> None:
    from directory.services import directory_upload_run

    directory_upload_run(import_id=import_id, apply=True)


@shared_task(name="directory.sync_zwdd", ignore_result=True, time_limit=3600, soft_time_limit=3500)
def directory_sync_zwdd_task() -> None:
    """Nightly, when ZWDD_DIRECTORY_SYNC is on; one run at a time across workers."""
    from django.conf import settings
    from django.core.cache import cache

    from directory.zwdd.sync import directory_sync_zwdd, sync_configured

    if not settings.ZWDD_DIRECTORY_SYNC or not sync_configured():
        return
    if not cache.add("zx:directory:zwdd-sync", 1, 3600):
        return
    try:
        directory_sync_zwdd()
    finally:
        cache.delete("zx:directory:zwdd-sync")
