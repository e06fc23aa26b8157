"""`govshare audit verify` at scale: ranges, worker processes and the fast leaf path report exactly what the
reference does (R-SEC-05). Timing lives in bench/audit.py."""

import pytest
from django.db import connection

from govshare.audit import merkle, services, triggers
from govshare.audit.models import AuditEvent, AuditLeaf


@pytest.fixture(autouse=True)
def key_dir(settings, tmp_path):
    settings.GOVSHARE_AUDIT_KEY_DIR = tmp_path / "keys"


class _Untriggered:
    def __enter__(self):
        triggers.execute(connection, triggers.drop_sql(connection.vendor))

    def __exit__(self, *exc):
        triggers.execute(connection, triggers.create_sql(connection.vendor))


def _log(n=11, batch=4):
    evs = [services.record(f"test.v.{i}", object_type="test", object_id=i, detail={"i": i}) for i in range(n)]
    services.seal_pending(batch=batch)
    return [e.seq for e in evs]


@pytest.mark.django_db(transaction=True)
def test_worker_processes_report_like_one_process():
    seqs = _log()
    # PostgreSQL runs forked workers here; the test's in-memory SQLite cannot be opened by another process
    assert services._parallel_ok() == (connection.vendor == "postgresql")
    assert services.verify(workers=2, chunk=3).ok
    with _Untriggered():
        AuditEvent.objects.filter(seq=seqs[7]).update(purpose="私自查询")
    one, two = services.verify(chunk=3), services.verify(workers=2, chunk=3)
    assert one.errors == two.errors and two.first_bad_seq == seqs[7]
    assert f"第 {seqs[7]} 号事件被篡改" in two.errors[0]


def test_first_bad_seq_is_the_earliest_in_log_order_for_any_range_size(db):
    seqs = _log(11, batch=3)
    with _Untriggered():
        # event 2 rewritten together with its stored leaf (only the signed root shows it), event 8 plainly
        AuditEvent.objects.filter(seq=seqs[2]).update(actor="mallory")
        row = AuditEvent.objects.filter(seq=seqs[2]).values_list(*services.FIELDS).get()
        AuditLeaf.objects.filter(seq=seqs[2]).update(hash=merkle.leaf_hashes([services.event_bytes(row)])[0])
        AuditEvent.objects.filter(seq=seqs[8]).update(purpose="私自查询")
    reports = [services.verify(chunk=c) for c in (2, 5, 50_000)]
    assert all(r.errors == reports[0].errors for r in reports)
    # the head over leaves 0..2 fails first, naming the start of its range; event 8 comes after
    assert reports[0].first_bad_seq == seqs[0] and "根哈希与签名树头不符" in reports[0].errors[0]
    assert any(f"第 {seqs[8]} 号事件被篡改" in e for e in reports[0].errors)


def test_a_missing_leaf_row_is_named(db):
    seqs = _log(6, batch=6)
    with _Untriggered():
        AuditLeaf.objects.filter(seq=seqs[2]).delete()
    rep = services.verify(chunk=2)
    assert rep.errors[0] == f"第 2 号叶子缺失（日志存储被删改），其后为第 {seqs[3]} 号事件"


def test_unreadable_time_is_reported_not_crashed_and_a_respelled_one_passes(db):
    seqs = _log(4, batch=4)
    if connection.vendor != "sqlite":
        pytest.skip("only SQLite lets a text column hold what no timestamp is")
    with _Untriggered(), connection.cursor() as cur:
        # the same instant spelled with a "T": the reference path reads the same event, so nothing changed
        cur.execute(
            "UPDATE audit_auditevent SET occurred_at = replace(occurred_at, ' ', 'T') WHERE seq = %s",
            [seqs[1]],
        )
    assert services.verify().ok
    with _Untriggered(), connection.cursor() as cur:
        cur.execute("UPDATE audit_auditevent SET occurred_at = 'not a time at all' WHERE seq = %s", [seqs[2]])
    rep = services.verify()
    assert rep.first_bad_seq == seqs[2] and f"第 {seqs[2]} 号事件被篡改" in rep.errors[0]
