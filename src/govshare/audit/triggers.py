"""Append-only enforcement in the database itself: UPDATE and DELETE are refused by triggers.

Used by migration 0002 and by the `flush` override (see docs/audit.md, "Tests and flush").
"""

TABLES = ["audit_auditevent", "audit_auditleaf", "audit_auditnode", "audit_treehead"]
MESSAGE = "审计记录只允许追加 / audit log is append-only"

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION govshare_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{MESSAGE}: % on %', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def create_sql(vendor: str, tables=TABLES) -> list[str]:
    if vendor == "postgresql":
        out = [PG_FUNCTION]
        for t in tables:
            out.append(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}")
            out.append(
                f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                "FOR EACH ROW EXECUTE FUNCTION govshare_audit_append_only()"
            )
        return out
    if vendor == "sqlite":
        out = []
        for t in tables:
            for op in ("update", "delete"):
                out.append(
                    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op} BEFORE {op.upper()} ON {t} "
                    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
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
