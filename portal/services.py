"""Write use cases of the portal app."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import models, transaction

from portal.http import current_address
from portal.models import AuditLog, User

# The Django model permissions an organiser needs in the admin (the scope itself comes from
# ``portal.scopes``: these only open the pages, the querysets stay limited to the subtree).
ORGANISER_GROUP_NAME = "organisers"
ORGANISER_PERMISSIONS: tuple[str, ...] = (
    "courses.add_programme",
    "courses.change_programme",
    "courses.delete_programme",
    "courses.view_programme",
    "courses.add_lecture",
    "courses.change_lecture",
    "courses.delete_lecture",
    "courses.view_lecture",
    "courses.add_speaker",
    "courses.change_speaker",
    "courses.delete_speaker",
    "courses.view_speaker",
    "courses.add_venue",
    "courses.change_venue",
    "courses.delete_venue",
    "courses.view_venue",
    "courses.add_enrolment",
    "courses.change_enrolment",
    "courses.delete_enrolment",
    "courses.view_enrolment",
    # The programme's 学时 rule (an inline of the programme; applying it is audited).
    "courses.add_studyhourrule",
    "courses.change_studyhourrule",
    "courses.delete_studyhourrule",
    "courses.view_studyhourrule",
    # 学时证明 / 结业证书 of cadres in their area: read, revoke (audited).
    "learning.view_certificate",
    "learning.change_certificate",
    # 随堂测验 (tests, questions, choices) and the ratings of their lectures (read).
    "learning.add_quiz",
    "learning.change_quiz",
    "learning.delete_quiz",
    "learning.view_quiz",
    "learning.add_quizquestion",
    "learning.change_quizquestion",
    "learning.delete_quizquestion",
    "learning.view_quizquestion",
    "learning.add_quizchoice",
    "learning.change_quizchoice",
    "learning.delete_quizchoice",
    "learning.view_quizchoice",
    "learning.view_evaluation",
    # Attendance: raw rows read-only; corrections are added (audited) from the row's page.
    "courses.view_attendance",
    "courses.add_attendanceoverride",
    "courses.view_attendanceoverride",
    "portal.view_orgunit",
    "portal.view_user",
    # Reminders of their lectures and the 通报 subscriptions (notifications admin, scoped).
    "notifications.add_reminder",
    "notifications.change_reminder",
    "notifications.delete_reminder",
    "notifications.view_reminder",
    "notifications.add_rankingsubscription",
    "notifications.change_rankingsubscription",
    "notifications.delete_rankingsubscription",
    "notifications.view_rankingsubscription",
    # Directory files for their own subtree (directory admin: check, confirm, apply).
    "directory.add_directoryimport",
    "directory.view_directoryimport",
    # Study groups and the discussion's report queue (discussion admin, scoped).
    "discussion.add_studygroup",
    "discussion.change_studygroup",
    "discussion.view_studygroup",
    "discussion.add_groupmember",
    "discussion.change_groupmember",
    "discussion.delete_groupmember",
    "discussion.view_groupmember",
    "discussion.view_postreport",
    "discussion.change_postreport",
    "discussion.view_post",
    "discussion.change_post",
    "discussion.view_programmediscussion",
    "discussion.add_programmediscussion",
    "discussion.change_programmediscussion",
)


AuditEntry = tuple[str, "models.Model | str", dict[str, Any] | None]


def _audit_row(
    *,
    actor: User | None,
    address: str | None,
    action: str,
    target: models.Model | str,
    detail: dict[str, Any] | None,
) -> AuditLog:
    if isinstance(target, models.Model):
        target_text = f"{target._meta.label_lower}:{target.pk}"
    else:
        target_text = target
    return AuditLog(
        user=actor,
        action=action[:64],
        target=target_text[:200],
        detail=detail or {},
        address=address,
    )


def audit_log_write_many(
    *, user: User | None, entries: Sequence[AuditEntry], address: str | None = None
) -> list[AuditLog]:
    """Record actions of one actor in one insert: ``(action, target, detail)`` each, the
    target a model instance or a ``"kind:id"`` text. The one write path of the audit log
    (``audit_log_write`` is its single-entry form)."""
    actor = user if user is not None and user.is_authenticated else None
    if address is None:  # the request or socket being served, if any
        address = current_address()
    rows = [
        _audit_row(actor=actor, address=address, action=action, target=target, detail=detail)
        for action, target, detail in entries
    ]
    return AuditLog.objects.bulk_create(rows, batch_size=1000)


def audit_log_write(
    *,
    user: User | None,
    action: str,
    target: models.Model | str,
    detail: dict[str, Any] | None = None,
    address: str | None = None,
) -> AuditLog:
    """Record an action. ``target`` is a model instance or a ``"kind:id"`` text;
    ``address`` the client's IP; by default the one of the request or socket being
    served (``portal.http.current_address``)."""
    return audit_log_write_many(user=user, entries=[(action, target, detail)], address=address)[0]


@transaction.atomic
def organiser_group_ensure() -> Group:
    """The ``organisers`` group with the admin permissions an organiser needs (idempotent)."""
    group, _created = Group.objects.get_or_create(name=ORGANISER_GROUP_NAME)
    wanted = Permission.objects.none()
    for dotted in ORGANISER_PERMISSIONS:
        app_label, codename = dotted.split(".", 1)
        wanted |= Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    group.permissions.set(wanted)
    return group


def organiser_permissions_grant(*, user: User) -> None:
    """Make ``user`` staff and put them in the ``organisers`` group (scope comes from roles)."""
    group = organiser_group_ensure()
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    user.groups.add(group)
    # Django caches permissions on the instance; drop the caches so checks see the change.
    for attr in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(attr, None)
