"""The audit log gets the client's address and an auditor role to read it, and becomes append-only in the database too:
on PostgreSQL a trigger refuses every UPDATE (but the actor's account being deleted, which
sets ``user_id`` to NULL) and every DELETE of an entry younger than 184 days (MLPS 2.0
level 3: audit records are kept at least six months). TRUNCATE is left to the table's
owner (test database flushes); the application's role does not own tables in production
(docs/security.md)."""

from django.db import migrations, models

MIN_RETENTION_DAYS = 184

CREATE = f"""
CREATE OR REPLACE FUNCTION portal_auditlog_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.user_id IS NULL AND OLD.user_id IS NOT NULL
           AND (NEW.id, NEW.at, NEW.action, NEW.target, NEW.detail, NEW.address)
               IS NOT DISTINCT FROM
               (OLD.id, OLD.at, OLD.action, OLD.target, OLD.detail, OLD.address) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'portal_auditlog is append-only'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.at > now() - interval '{MIN_RETENTION_DAYS} days' THEN
        RAISE EXCEPTION 'audit log entries are kept for at least {MIN_RETENTION_DAYS} days'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN OLD;
END
$$;
DROP TRIGGER IF EXISTS portal_auditlog_append_only ON portal_auditlog;
CREATE TRIGGER portal_auditlog_append_only
    BEFORE UPDATE OR DELETE ON portal_auditlog
    FOR EACH ROW EXECUTE FUNCTION portal_auditlog_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS portal_auditlog_append_only ON portal_auditlog;
DROP FUNCTION IF EXISTS portal_auditlog_append_only();
"""


def _on_postgresql(sql: str):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0004_directory_keys"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditlog",
            name="address",
            field=models.GenericIPAddressField(blank=True, null=True, verbose_name="IP address"),
        ),
        migrations.AlterField(
            model_name="auditlog",
            name="action",
            field=models.CharField(db_index=True, max_length=64, verbose_name="action"),
        ),
        migrations.AlterField(
            model_name="role",
            name="kind",
            field=models.CharField(
                choices=[
                    ("organiser", "Organiser (organisation department)"),
                    ("school", "Party-school staff"),
                    ("auditor", "Auditor (reads the audit log of the subtree)"),
                ],
                max_length=20,
                verbose_name="role",
            ),
        ),
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP)),
    ]
