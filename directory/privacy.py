"""Retention of uploaded directory files (registered with portal.privacy)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from directory.models import DirectoryImport
from portal.privacy import retention_purger

DONE = (
    DirectoryImport.Status.REJECTED,
    DirectoryImport.Status.APPLIED,
    DirectoryImport.Status.FAILED,
)


@retention_purger("directory_uploads")
def directory_uploads_purge(now: datetime) -> int:
    """Uploaded files (names, phones of every cadre in them) and their bad-row lists past
    UPLOAD_RETENTION_DAYS. The import's row stays: who uploaded what, when, the counts."""
    cutoff = now - timedelta(days=settings.UPLOAD_RETENTION_DAYS)
    purged = 0
    stale = DirectoryImport.objects.filter(created_at__lt=cutoff).exclude(file="")
    for upload in stale.filter(status__in=DONE).iterator():
        upload.file.delete(save=False)
        upload.file = ""
        upload.errors = []
        upload.save(update_fields=["file", "errors"])
        purged += 1
    return purged
