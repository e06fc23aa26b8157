"""Drop the records' and history's own index on resource_id: (resource, key) leads with it.

Only the index goes. Django would rebuild both tables on SQLite to change `db_index`, which copies every
record and drops the lookup indexes `store.ensure_indexes` made outside the migrations; dropping the
index by name does neither, on both databases.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {
    "collect_record": "collect_record_resource_id_055ef3ad",
    "collect_recordhistory": "collect_recordhistory_resource_id_c57ba5fd",
}


def _field():
    return models.ForeignKey(
        db_index=False,
        on_delete=django.db.models.deletion.PROTECT,
        related_name="+",
        to="catalog.resource",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0004_infoitem_is_sensitive"),
        ("collect", "0003_series_sealing"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="record", name="resource", field=_field()),
                migrations.AlterField(model_name="recordhistory", name="resource", field=_field()),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {index}",
                    reverse_sql=f"CREATE INDEX IF NOT EXISTS {index} ON {table} (resource_id)",
                )
                for table, index in INDEXES.items()
            ],
        ),
    ]
