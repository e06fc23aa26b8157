"""Append-only enforcement in the database itself: UPDATE and DELETE are refused by triggers.

One exception (R-SEC-06, migration 0003): DELETE of an event whose seq lies inside a recorded archive
segment, i.e. an event that has already been written to its archive file (audit/archive.py).

Used by migrations 0002 and 0003 and by the `flush` override (see docs/audit.md, "Tests and flush").
"""

EVENTS = "audit_auditevent"
SEGMENTS = "audit_archivesegment"
TABLES_0002 = ["audit_auditevent", "audit_auditleaf", "audit_auditnode", "audit_treehead"]
TABLES = [*TABLES_0002, SEGMENTS]
MESSAGE = "审计记录只允许追加 / audit log is append-only"

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION govshare_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{MESSAGE}: % on %', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""
PG_EVENT_FUNCTION = f"""
CREATE OR REPLACE FUNCTION govshare_audit_event_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (
        SELECT 1 FROM {SEGMENTS} s WHERE OLD.seq BETWEEN s.first_seq AND s.last_seq
    ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '{MESSAGE}: % on %', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""
SQLITE_ARCHIVED = f"EXISTS (SELECT 1 FROM {SEGMENTS} s WHERE OLD.seq BETWEEN s.first_seq AND s.last_seq)"


def create_sql(vendor: str, tables=TABLES) -> list[str]:
    """Triggers for `tables`; the archive exception exists only once the segment table is among them."""
    archive = SEGMENTS in tables
    if vendor == "postgresql":
        out = [PG_FUNCTION, PG_EVENT_FUNCTION] if archive else [PG_FUNCTION]
        for t in tables:
            func = "govshare_audit_event_guard" if archive and t == EVENTS else "govshare_audit_append_only"
            out.append(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}")
            out.append(
                f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                f"FOR EACH ROW EXECUTE FUNCTION {func}()"
            )
        return out
    if vendor == "sqlite":
        out = []
        for t in tables:
            for op in ("update", "delete"):
                when = f"WHEN NOT {SQLITE_ARCHIVED} " if archive and t == EVENTS and op == "delete" else ""
                out.append(
                    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op} BEFORE {op.upper()} ON {t} "
                    f"{when}BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
                )
        return out
    return []


def drop_sql(vendor: str, tables=TABLES) -> list[str]:
    if vendor == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}" for t in tables]
    if vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {t}_no_{op}" for t in tables for op in ("update", "delete")]
    return []


def execute(connection, statements: list[str]) -> None:
    with connection.cursor() as cur:
        for sql in statements:
            cur.execute(sql)
