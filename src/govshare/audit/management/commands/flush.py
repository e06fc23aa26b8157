"""`flush` that also works on the append-only audit tables under SQLite.

PostgreSQL flushes with TRUNCATE, which row triggers do not see; SQLite flushes with DELETE, which the
append-only triggers refuse. Flushing wipes the whole database (an administrator action, used by the
test suite between transactional tests), so here the SQLite triggers are dropped for the flush and
re-created afterwards in the same transaction. Row-level UPDATE/DELETE stays refused at all other times.
"""

from django.core.management.commands.flush import Command as FlushCommand
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from govshare.audit import triggers


class Command(FlushCommand):
    def handle(self, **options):
        connection = connections[options.get("database") or DEFAULT_DB_ALIAS]
        if connection.vendor != "sqlite":
            return super().handle(**options)
        with transaction.atomic(using=connection.alias):
            triggers.execute(connection, triggers.drop_sql("sqlite"))
            try:
                super().handle(**options)
            finally:
                triggers.execute(connection, triggers.create_sql("sqlite"))
