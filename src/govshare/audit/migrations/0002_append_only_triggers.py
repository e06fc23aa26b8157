"""Database triggers that refuse UPDATE and DELETE on the audit log (SQLite and PostgreSQL)."""

from django.db import migrations

from govshare.audit import triggers


def create(apps, schema_editor):
    triggers.execute(schema_editor.connection, triggers.create_sql(schema_editor.connection.vendor))


def drop(apps, schema_editor):
    triggers.execute(schema_editor.connection, triggers.drop_sql(schema_editor.connection.vendor))


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
