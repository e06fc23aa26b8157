"""Database triggers that refuse UPDATE and DELETE on the audit log (SQLite and PostgreSQL)."""

from django.db import migrations

from govshare.audit import triggers


# The tables as they were at this migration; 0003 adds the archive segments and their DELETE exception.
def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    triggers.execute(schema_editor.connection, triggers.create_sql(vendor, triggers.TABLES_0002))


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    triggers.execute(schema_editor.connection, triggers.drop_sql(vendor, triggers.TABLES_0002))


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
