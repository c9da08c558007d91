"""Celery tasks of the portal: one service call each."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="portal.purge_personal_data", ignore_result=True, time_limit=3600)
def purge_personal_data_task() -> None:
    from portal.privacy import purge_personal_data

    removed = purge_personal_data()
    logger.info("purge_personal_data: %s", " ".join(f"{k}={v}" for k, v in removed.items()))
