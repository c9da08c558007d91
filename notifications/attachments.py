"""Announcement attachments: unguessable storage names and a guarded download response.

Files are never linked by their media URL. ``notifications:attachment_download`` checks that
the caller may see the announcement (``selectors.attachment_get_for_user``) and answers with
``attachment_response``: always a download (``Content-Disposition: attachment``), a content
type from a short allow-list (anything else is ``application/octet-stream``), ``nosniff``
and a sandboxing CSP. Behind nginx (``PROTECTED_MEDIA_ACCEL_PREFIX`` set) the body is sent
by nginx from an ``internal`` location via ``X-Accel-Redirect``; otherwise Django streams it.
"""

from __future__ import annotations

import os
import secrets
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBase
from django.utils import timezone
from django.utils.http import content_disposition_header

from notifications.models import AnnouncementAttachment

# Types a browser will not run as a page or script. Everything else is downloaded as bytes.
SAFE_TYPES: dict[str, str] = {
    ".pdf": "application/pdf",
    ".ofd": "application/ofd",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".txt": "text/plain; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".ppt": "application/vnd.ms-powerpoint",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".wps": "application/vnd.ms-works",
    ".zip": "application/zip",
}
FALLBACK_TYPE = "application/octet-stream"


def _extension(filename: str) -> str:
    ext = os.path.splitext(filename)[1].lower()
    # keep only short, plain extensions (no path tricks, no ".php.jpg" surprises downstream)
    return ext if 1 < len(ext) <= 6 and ext[1:].isalnum() else ""


def attachment_storage_name(*, filename: str) -> str:
    """``announcements/2026/11/<32 random hex>.pdf``: nothing to guess, nothing user-chosen."""
    now = timezone.localtime()
    return f"announcements/{now:%Y/%m}/{secrets.token_hex(16)}{_extension(filename)}"


def attachment_content_type(*, filename: str) -> str:
    return SAFE_TYPES.get(_extension(filename), FALLBACK_TYPE)


def attachment_download_name(*, attachment: AnnouncementAttachment) -> str:
    stored = attachment.file.name or ""
    name = os.path.basename(attachment.name.strip()) or os.path.basename(stored)
    ext = _extension(stored)
    if ext and _extension(name) != ext:
        name += ext  # the type the browser sees always matches the bytes we chose it for
    return name


def attachment_response(*, attachment: AnnouncementAttachment) -> HttpResponseBase:
    stored = attachment.file.name or ""
    download_name = attachment_download_name(attachment=attachment)
    content_type = attachment_content_type(filename=stored)
    prefix: str = settings.PROTECTED_MEDIA_ACCEL_PREFIX
    response: HttpResponseBase
    if prefix:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(stored.lstrip("/"))
        response["Content-Disposition"] = content_disposition_header(True, download_name)
    else:
        try:
            handle = attachment.file.open("rb")
        except (FileNotFoundError, ValueError) as exc:
            raise Http404 from exc
        response = FileResponse(
            handle, as_attachment=True, filename=download_name, content_type=content_type
        )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
