"""Keep the report summaries right when cadres or units move, or cadres are deleted.

Writes of attendance and enrolments call their sync directly (services, flush, admin);
these receivers cover the ``User`` model, which ``portal`` owns and may change anywhere.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save, pre_delete, pre_save
from django.dispatch import receiver

from courses.summaries.sync import (
    headcounts_changed,
    summaries_forget_user,
    summaries_sync_user,
    summaries_unit_moved,
)
from portal.models import OrgUnit, User, unit_moved


@receiver(pre_save, sender=User, dispatch_uid="courses.user_unit_before")
def _remember_unit(sender: type[User], instance: User, **kwargs: Any) -> None:
    fields = kwargs.get("update_fields")
    if instance.pk is None or (fields is not None and "unit" not in fields):
        return
    old = User.objects.filter(pk=instance.pk).values_list("unit_id", flat=True).first()
    instance.__dict__["_courses_unit_before"] = old


@receiver(post_save, sender=User, dispatch_uid="courses.user_unit_after")
def _unit_changed(sender: type[User], instance: User, created: bool, **kwargs: Any) -> None:
    if created:
        if instance.unit_id is not None:
            headcounts_changed()
        return
    marker = "_courses_unit_before"
    if marker in instance.__dict__ and instance.__dict__.pop(marker) != instance.unit_id:
        summaries_sync_user(user_id=int(instance.pk))


@receiver(pre_delete, sender=User, dispatch_uid="courses.user_deleted")
def _user_deleted(sender: type[User], instance: User, **kwargs: Any) -> None:
    summaries_forget_user(user_id=int(instance.pk))


@receiver(unit_moved, sender=OrgUnit, dispatch_uid="courses.unit_moved")
def _unit_moved(sender: type[OrgUnit], unit_id: int, old_ancestor_ids: list[int], **_: Any) -> None:
    summaries_unit_moved(unit_id=unit_id, old_ancestor_ids=old_ancestor_ids)
