"""The access log is append-only in the database too (PostgreSQL): UPDATE is always refused, DELETE
unless the retention purge set ``SET LOCAL app.access_log_purge = 'on'`` in its transaction
(hospitals/audit.py, docs/security.md). SQLite (tests, embedded demo) has no such trigger."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

FUNCTION = """
CREATE OR REPLACE FUNCTION hospitals_accesslog_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND coalesce(current_setting('app.access_log_purge', true), '') = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the access log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""

TRIGGER = """
CREATE TRIGGER hospitals_accesslog_append_only
    BEFORE UPDATE OR DELETE ON hospitals_accesslog
    FOR EACH ROW EXECUTE FUNCTION hospitals_accesslog_append_only()
"""

DROP = [
    "DROP TRIGGER IF EXISTS hospitals_accesslog_append_only ON hospitals_accesslog",
    "DROP FUNCTION IF EXISTS hospitals_accesslog_append_only()",
]


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # params=None: one plain statement each, and the % in the message is not a placeholder.
        schema_editor.execute(FUNCTION, params=None)
        schema_editor.execute(TRIGGER, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in DROP:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('hospitals', '0006_access_log'),
    ]

    operations = [
        migrations.AlterField(
            model_name='accesslog',
            name='user',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='user'),
        ),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
