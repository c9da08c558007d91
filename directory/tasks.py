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
