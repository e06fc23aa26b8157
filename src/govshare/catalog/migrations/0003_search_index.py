"""The full-text index behind catalog search: FTS5 on SQLite, a weighted tsvector + GIN on PostgreSQL."""

from django.db import migrations


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            # No foreign key: the index is derived data (search joins nothing and re-indexing replaces a
            # row), and a key would stop Django's flush, which truncates catalog_resource without CASCADE.
            # Name, code and the facet values are copied in so a search reads this table alone.
            "CREATE TABLE catalog_search (resource_id bigint PRIMARY KEY, document tsvector NOT NULL, "
            "name text NOT NULL, code text NOT NULL, catalog_kind text NOT NULL, provider_id bigint NOT NULL, "
            "share_type text NOT NULL, open_type text NOT NULL, format_category text NOT NULL, "
            "update_cycle text NOT NULL)"
        )
        schema_editor.execute("CREATE INDEX catalog_search_document ON catalog_search USING GIN (document)")
    elif vendor == "sqlite":
        schema_editor.execute(
            "CREATE VIRTUAL TABLE catalog_search USING fts5(name, items, abstract, provider, "
            "tokenize = 'unicode61 remove_diacritics 0')"
        )
    else:  # pragma: no cover
        raise RuntimeError(f"catalog search does not support {vendor}")


def drop(apps, schema_editor):
    schema_editor.execute("DROP TABLE IF EXISTS catalog_search")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_initial")]
    operations = [migrations.RunPython(create, drop)]
