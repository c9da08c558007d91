from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal"
    verbose_name = _("Organisations and accounts")

    def ready(self) -> None:
        from allauth.account.signals import login_code_rejected
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
        from django.db.models.signals import post_save

        from portal import privacy  # noqa: F401  (registers the portal's purges)
        from portal.audit import (
            sign_in_audit,
            sign_in_code_rejected_audit,
            sign_in_failed_audit,
            sign_out_audit,
        )
        from portal.models import User
        from portal.sessions.policy import session_policy_on_login
        from portal.sessions.revoke import (
            user_access_changed,
            user_session_forget,
            user_session_record,
        )

        user_logged_in.connect(session_policy_on_login, dispatch_uid="portal.session_policy")
        user_logged_in.connect(user_session_record, dispatch_uid="portal.session_record")
        user_logged_out.connect(user_session_forget, dispatch_uid="portal.session_forget")
        user_logged_in.connect(sign_in_audit, dispatch_uid="portal.audit_sign_in")
        user_logged_out.connect(sign_out_audit, dispatch_uid="portal.audit_sign_out")
        user_login_failed.connect(sign_in_failed_audit, dispatch_uid="portal.audit_failed")
        login_code_rejected.connect(sign_in_code_rejected_audit, dispatch_uid="portal.audit_code")
        post_save.connect(user_access_changed, sender=User, dispatch_uid="portal.user_access")


class ZhixingAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the portal's site: every admin registered on it is
    audited (portal/admin_site.py). Named in INSTALLED_APPS; PortalConfig stays the
    default of this module."""

    default = False

    default_site = "portal.admin_site.ZhixingAdminSite"
