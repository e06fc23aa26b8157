"""The models and the migrations agree: a model change without its migration fails here, not at deploy."""

import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_lacks_a_migration():
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exc:  # --check exits 1 when a migration would be written
        pytest.fail(f"models changed without a migration (exit {exc.code}):\n{out.getvalue()}")


@pytest.mark.django_db
@pytest.mark.parametrize("table", ["collect_record", "collect_recordhistory"])
def test_records_have_no_index_on_the_resource_alone(table):  # R-COL-01
    """(resource, key) leads with resource_id; migration 0004 drops the extra index by name, which would
    do nothing, silently, if the name were wrong."""
    from django.db import connection

    with connection.cursor() as cur:
        found = connection.introspection.get_constraints(cur, table)
    assert not [n for n, c in found.items() if c["index"] and c["columns"] == ["resource_id"]], found
    assert any(c["columns"][:2] == ["resource_id", "key"] for c in found.values())
