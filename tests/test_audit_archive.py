"""Audit log retention (R-SEC-06): sealed events older than the retention period move to archive segments,
and the log stays verifiable — verify rechecks the files, receipts of archived events still prove (R-SEC-05)."""

import datetime as dt
import gzip
import json
import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone

from govshare.audit import archive, keys, merkle, services
from govshare.audit.models import ArchiveSegment, AuditEvent, AuditLeaf
from govshare.audit.verifier import verify_receipt
from govshare.errors import DomainError


@pytest.fixture(autouse=True)
def audit_dirs(settings, tmp_path):
    settings.GOVSHARE_AUDIT_KEY_DIR = tmp_path / "keys"
    settings.STORAGES = {
        **settings.STORAGES,
        "audit_archive": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "archive", "file_permissions_mode": 0o440},
        },
    }
    return tmp_path / "archive"


def _at(day: dt.date, hour=12, minute=0, second=0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute, second)))


def _event(when: dt.datetime, i: int, **kw) -> AuditEvent:
    fields = {"object_type": "test", "object_id": str(i), "detail": {"i": i}} | kw
    return AuditEvent.objects.create(occurred_at=when, action=f"test.old.{i}", **fields)


def _log_around_cutoff():
    """Events on both sides of the latest allowed cut-off (local midnight), sealed and signed."""
    cut = archive.latest_cutoff()
    old = [
        _event(_at(cut - dt.timedelta(days=40)), 0, department_id=7, purpose="办理户籍业务"),
        _event(_at(cut - dt.timedelta(days=3)), 1, actor="民政局\n张三", detail={"引号": '"\\', "n": 1}),
        _event(_at(cut - dt.timedelta(days=1), 23, 59, 59), 2),
    ]
    new = [_event(_at(cut, 0, 0, 0), 3), _event(_at(cut + dt.timedelta(days=2)), 4)]
    services.seal_pending(batch=2)
    return cut, old, new


def _verify_fails(*args) -> str:
    with pytest.raises(CommandError) as exc:
        call_command("audit", "verify", *args)
    return str(exc.value)


def _rewrite(path, edit):
    os.chmod(path, 0o600)
    with gzip.open(path, "rb") as fh:
        lines = fh.read().splitlines()
    with gzip.open(path, "wb") as fh:
        fh.write(b"".join(line + b"\n" for line in edit(lines)))


def test_archive_moves_exactly_the_events_before_the_cutoff(db, audit_dirs, capsys):  # R-SEC-06
    cut, old, new = _log_around_cutoff()
    call_command("audit", "archive")
    out = capsys.readouterr().out
    assert f"已归档 3 个事件（第 {old[0].seq}–{old[-1].seq} 号）" in out
    live = set(AuditEvent.objects.values_list("seq", flat=True))
    assert not live & {e.seq for e in old}
    assert {e.seq for e in new} <= live
    seg = ArchiveSegment.objects.get()
    assert (seg.first_seq, seg.last_seq, seg.count, seg.cutoff) == (old[0].seq, old[-1].seq, 3, cut)
    path = audit_dirs / seg.file_name
    import hashlib

    assert hashlib.sha256(path.read_bytes()).hexdigest() == seg.sha256
    lines = gzip.decompress(path.read_bytes()).splitlines()
    # each line is the event exactly as its leaf commits to it
    assert [json.loads(line)["seq"] for line in lines] == [e.seq for e in old]
    leaves = dict(AuditLeaf.objects.filter(seq__in=[e.seq for e in old]).values_list("seq", "hash"))
    assert all(merkle.get_hasher().leaf(line) == bytes(leaves[json.loads(line)["seq"]]) for line in lines)
    assert json.loads(lines[1])["actor"] == "民政局\n张三"
    # archiving is itself an audit event; leaves and heads stay
    ev = AuditEvent.objects.get(action="audit.archive.create")
    assert ev.detail["first_seq"] == old[0].seq and ev.detail["sha256"] == seg.sha256
    assert AuditLeaf.objects.count() == 5
    # nothing left to archive: a second run changes nothing
    call_command("audit", "archive")
    assert "没有可归档的事件" in capsys.readouterr().out
    assert ArchiveSegment.objects.count() == 1


def test_archive_with_an_earlier_date_and_dry_run(db, capsys):  # R-SEC-06
    cut, old, _ = _log_around_cutoff()
    before = (cut - dt.timedelta(days=2)).isoformat()
    call_command("audit", "archive", "--before", before, "--dry-run")
    assert f"将归档 2 个事件（第 {old[0].seq}–{old[1].seq} 号" in capsys.readouterr().out
    assert ArchiveSegment.objects.count() == 0 and AuditEvent.objects.filter(seq=old[0].seq).exists()
    call_command("audit", "archive", "--before", before)
    assert ArchiveSegment.objects.get().last_seq == old[1].seq
    assert AuditEvent.objects.filter(seq=old[2].seq).exists()


def test_a_long_backlog_is_cut_into_segments_that_verify(db):  # R-SEC-06
    _, old, _ = _log_around_cutoff()
    out = archive.archive(segment_events=2)
    assert out["segments"] == 2 and out["events"] == 3
    assert list(ArchiveSegment.objects.values_list("first_seq", "last_seq", "count")) == [
        (old[0].seq, old[1].seq, 2),
        (old[2].seq, old[2].seq, 1),
    ]
    assert services.receipt(old[2].seq)["event"]["action"] == "test.old.2"
    rep = services.verify()
    assert rep.ok and rep.archived == 3


def test_unsealed_events_are_not_archived(db):  # R-SEC-06: only what a signed head covers
    cut = archive.latest_cutoff()
    sealed = _event(_at(cut - dt.timedelta(days=9)), 0)
    services.seal_pending()
    _event(_at(cut - dt.timedelta(days=8)), 1)  # old, but not sealed yet
    _event(_at(cut - dt.timedelta(days=7)), 2)
    out = archive.archive()
    assert (out["events"], out["first_seq"], out["last_seq"]) == (1, sealed.seq, sealed.seq)


def test_cutoff_inside_the_retention_period_is_refused(db, settings):  # R-SEC-06
    _log_around_cutoff()
    today = timezone.localdate()
    with pytest.raises(CommandError) as exc:
        call_command("audit", "archive", "--before", today.isoformat())
    msg = str(exc.value)
    assert "操作日志至少保存 6 个月" in msg and "archive_cutoff_too_recent" in msg
    assert "本地办法未规定" in msg  # 郴州 is silent: the 6-month default applies
    settings.GOVSHARE_PROFILE = "shangrao"  # 上饶 第二十五条: at least 6 months
    too_late = archive.latest_cutoff() + dt.timedelta(days=1)
    with pytest.raises(DomainError) as err:
        archive.archive(too_late)
    assert err.value.code == "archive_cutoff_too_recent" and "第二十五条" in err.value.message
    assert err.value.detail["latest_allowed"] == archive.latest_cutoff().isoformat()
    assert ArchiveSegment.objects.count() == 0


def test_latest_cutoff_counts_calendar_months():  # 民法典 第二百零二条: no corresponding day → month end
    assert archive.months_before(dt.date(2026, 8, 31), 6) == dt.date(2026, 2, 28)
    assert archive.months_before(dt.date(2026, 3, 15), 6) == dt.date(2025, 9, 15)


def test_verify_passes_after_archiving_and_says_what_it_skipped(db, capsys):  # R-SEC-05, R-SEC-06
    _log_around_cutoff()
    archive.archive()
    services.seal_pending()
    call_command("audit", "verify")
    out = capsys.readouterr().out
    assert "全部校验通过" in out and "3 个已归档事件按归档段文件重新核对" in out
    call_command("audit", "verify", "--skip-archived")
    assert "3 个已归档事件未按归档文件重新核对" in capsys.readouterr().out


def test_verify_names_the_segment_and_event_when_the_file_is_edited(db, audit_dirs):  # R-SEC-05
    _, old, _ = _log_around_cutoff()
    archive.archive()
    seg = ArchiveSegment.objects.get()

    def forge(lines):
        event = json.loads(lines[1])
        event["actor"] = "someone-else"
        return [lines[0], merkle.canonical_bytes(event), *lines[2:]]

    _rewrite(audit_dirs / seg.file_name, forge)
    msg = _verify_fails()
    assert (
        seg.file_name in msg and "SHA-256 与登记不符" in msg and f"第 {old[1].seq} 号事件与封存时不符" in msg
    )
    # --skip-archived does not read the file, and says so instead of passing silently
    call_command("audit", "verify", "--skip-archived")


def test_verify_names_the_segment_when_the_file_is_deleted(db, audit_dirs):  # R-SEC-05
    _, old, _ = _log_around_cutoff()
    archive.archive()
    seg = ArchiveSegment.objects.get()
    (audit_dirs / seg.file_name).unlink()
    msg = _verify_fails()
    assert seg.file_name in msg and "文件缺失" in msg and f"第 {old[0].seq}–{old[-1].seq} 号事件" in msg
    rep = services.verify()
    assert rep.first_bad_seq == old[0].seq


def test_receipt_of_an_archived_event_checks_with_the_standalone_verifier(city, tmp_path, capsys):  # R-SEC-05
    _, old, _ = _log_around_cutoff()
    archive.archive()
    services.seal_pending()
    capsys.readouterr()
    call_command("audit", "receipt", str(old[1].seq))
    doc = json.loads(capsys.readouterr().out)
    assert doc["event"]["actor"] == "民政局\n张三" and verify_receipt(doc, keys.trusted_keys()).ok
    receipt, keyring = tmp_path / "receipt.json", tmp_path / "keys.json"
    receipt.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    call_command("audit", "keys", "--export", str(keyring))
    run = subprocess.run(
        [sys.executable, "-m", "govshare.audit.verifier", str(receipt), "--keys", str(keyring)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0 and "有效 VALID" in run.stdout, run.stdout + run.stderr
    # the API gives it to the authority, which sees every event, and to the department that caused it
    c = Client()
    c.force_login(city.reviewer)
    assert verify_receipt(c.get(f"/api/v1/audit/events/{old[1].seq}/receipt").json(), keys.trusted_keys()).ok
    c.force_login(city.civil_officer)
    assert c.get(f"/api/v1/audit/events/{old[1].seq}/receipt").status_code == 404


def test_direct_delete_of_a_live_event_is_still_refused(db):  # R-SEC-05: archiving opens no other door
    _, _, new = _log_around_cutoff()
    archive.archive()
    for sql, params in [
        ("DELETE FROM audit_auditevent WHERE seq = %s", [new[0].seq]),
        ("UPDATE audit_auditevent SET actor = 'x' WHERE seq = %s", [new[0].seq]),
        ("DELETE FROM audit_archivesegment", []),
        ("UPDATE audit_archivesegment SET sha256 = 'x'", []),
    ]:
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, params)
    assert AuditEvent.objects.filter(seq=new[0].seq).exists()


def test_archive_refuses_an_altered_event(db):  # R-SEC-05: an altered event is not carried into a file
    from govshare.audit import triggers

    _, old, _ = _log_around_cutoff()
    triggers.execute(connection, triggers.drop_sql(connection.vendor))
    AuditEvent.objects.filter(seq=old[1].seq).update(purpose="私自查询")
    triggers.execute(connection, triggers.create_sql(connection.vendor))
    with pytest.raises(DomainError) as err:
        archive.archive()
    assert err.value.code == "audit_archive_refused" and f"第 {old[1].seq} 号事件" in err.value.message
    assert ArchiveSegment.objects.count() == 0 and AuditEvent.objects.filter(seq=old[0].seq).exists()


def test_tick_archives_only_when_enabled(db, settings):  # R-SEC-06: off by default
    _log_around_cutoff()
    assert archive.archive_due() == {"enabled": False}
    assert ArchiveSegment.objects.count() == 0
    settings.GOVSHARE_AUDIT_ARCHIVE_AUTO = True
    assert archive.archive_due()["events"] == 3
