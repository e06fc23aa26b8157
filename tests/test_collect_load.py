"""Loading data into a published resource: validation, atomic batches, idempotency, history (issue #4)."""

import pyarrow as pa
import pytest

from govshare.collect import services
from govshare.collect.models import Batch, BatchStatus, Record, RecordHistory, Series
from govshare.errors import DomainError, PermissionDenied
from govshare.orgs.identifiers import ric_check_char, uscc_check_char


def ric(body17: str) -> str:
    return body17 + ric_check_char(body17)


def uscc(body17: str) -> str:
    return body17 + uscc_check_char(body17)


def rows(*dicts):
    cols = sorted({k for d in dicts for k in d})
    return [pa.record_batch({c: pa.array([d.get(c) for d in dicts], pa.string()) for c in cols})]


A = ric("43100219800101001")
B = ric("43100219900215002")
C = ric("11010519491231002")


def load(resource, officer, *dicts, **kw):
    return services.load(resource, rows(*dicts), actor=officer, **kw).batch


def test_valid_batch_is_committed_with_sequence_and_counts(city, people):  # R-COL-01
    b = load(
        people, city.police_officer, {"sfzh": A, "xm": "张三", "csrq": "1980/1/1"}, {"sfzh": B, "xm": "李四"}
    )
    assert b.status == BatchStatus.COMMITTED
    assert (b.inserted, b.updated, b.unchanged) == (2, 0, 0)
    assert (b.seq_from, b.seq_to) == (1, 2)
    rec = Record.objects.get(resource=people, key=A)
    assert rec.data == {"sfzh": A, "xm": "张三", "xb": None, "csrq": "1980-01-01", "sjhm": None}
    assert Series.objects.get(resource=people).live_count == 2


def test_one_bad_row_rejects_the_whole_batch_and_reports_it(city, people):  # R-COL-04
    bad = A[:-1] + ("0" if A[-1] != "0" else "1")
    b = load(
        people, city.police_officer, {"sfzh": B, "xm": "李四"}, {"sfzh": bad, "xm": "王五", "xb": "未知"}
    )
    assert b.status == BatchStatus.REJECTED
    assert not Record.objects.filter(resource=people).exists()
    errs = {(e.row, e.item_code, e.code) for e in b.errors.all()}
    assert errs == {(2, "sfzh", "check_digit"), (2, "xb", "not_in_enum")}
    assert "整批未写入" in b.message


def test_accept_valid_commits_good_rows_and_quarantines_the_rest(city, people):
    b = load(
        people,
        city.police_officer,
        {"sfzh": A, "xm": "张三"},
        {"sfzh": "123", "xm": "坏行"},
        accept_valid=True,
    )
    assert b.status == BatchStatus.PARTIAL
    assert list(Record.objects.filter(resource=people).values_list("key", flat=True)) == [A]
    q = b.quarantined.get()
    assert q.row == 2 and q.raw["xm"] == "坏行"


def test_duplicate_primary_key_in_one_batch_is_refused(city, people):
    b = load(
        people,
        city.police_officer,
        {"sfzh": A, "xm": "张三"},
        {"sfzh": B, "xm": "李四"},
        {"sfzh": A, "xm": "张三丰"},
    )
    assert b.status == BatchStatus.REJECTED
    assert sorted(e.row for e in b.errors.filter(code="duplicate_key")) == [1, 3]


def test_update_keeps_history_and_unchanged_rows_keep_their_sequence(city, people):
    load(people, city.police_officer, {"sfzh": A, "xm": "张三"}, {"sfzh": B, "xm": "李四"})
    b = load(people, city.police_officer, {"sfzh": A, "xm": "张三"}, {"sfzh": B, "xm": "李四四"})
    assert (b.inserted, b.updated, b.unchanged) == (0, 1, 1)
    a, bb = Record.objects.get(key=A), Record.objects.get(key=B)
    assert a.seq == 1 and bb.seq > 2
    old = RecordHistory.objects.get(key=B)
    assert old.data["xm"] == "李四" and old.superseded_seq == bb.seq


def test_deletes_leave_tombstones_and_replace_mode_retires_missing_keys(city, people):
    load(
        people,
        city.police_officer,
        {"sfzh": A, "xm": "张三"},
        {"sfzh": B, "xm": "李四"},
        {"sfzh": C, "xm": "王五"},
    )
    b = services.load(people, [], actor=city.police_officer, deletes=[A, "no-such-key"]).batch
    assert b.deleted == 1 and "1 个待删除主键不存在" in b.message
    gone = Record.objects.get(key=A)
    assert gone.deleted and gone.data is None
    b2 = load(people, city.police_officer, {"sfzh": B, "xm": "李四"}, mode="replace")
    assert (b2.unchanged, b2.deleted) == (1, 1)
    assert set(Record.objects.filter(deleted=False).values_list("key", flat=True)) == {B}
    assert Series.objects.get(resource=people).live_count == 1
    # a key deleted earlier comes back as a new record
    b3 = load(people, city.police_officer, {"sfzh": A, "xm": "张三"})
    assert b3.inserted == 1 and not Record.objects.get(key=A).deleted


def test_idempotency_key_replays_the_committed_batch(city, people):
    first = services.load(
        people,
        rows({"sfzh": A, "xm": "张三"}),
        actor=city.police_officer,
        idempotency_key="k1",
        content_digest="d1",
    )
    again = services.load(
        people,
        rows({"sfzh": A, "xm": "张三改"}),
        actor=city.police_officer,
        idempotency_key="k1",
        content_digest="d1",
    )
    assert again.replayed and again.batch.pk == first.batch.pk
    assert Record.objects.get(key=A).data["xm"] == "张三"
    assert Batch.objects.filter(resource=people).count() == 1
    with pytest.raises(DomainError) as exc:
        services.load(
            people,
            rows({"sfzh": A, "xm": "x"}),
            actor=city.police_officer,
            idempotency_key="k1",
            content_digest="other",
        )
    assert exc.value.code == "idempotency_conflict"


def test_only_the_provider_department_may_load(city, people):
    with pytest.raises(PermissionDenied):
        load(people, city.market_officer, {"sfzh": A, "xm": "张三"})


def test_lookup_items_get_an_index(city, people):
    from django.db import connection

    load(people, city.police_officer, {"sfzh": A, "xm": "张三", "sjhm": "13812345678"})
    with connection.cursor() as cur:
        names = connection.introspection.get_constraints(cur, "collect_record")
    assert any(n.startswith(f"rec_r{people.pk}_") for n in names)


def test_a_batch_whose_process_died_is_marked_failed_by_the_tick(city, people):
    import datetime as dt

    from django.utils import timezone

    from govshare.web.scheduler import run_tick

    b = Batch.objects.create(
        resource=people, department=city.police, source="cli", heartbeat_at=timezone.now()
    )
    Batch.objects.filter(pk=b.pk).update(heartbeat_at=timezone.now() - dt.timedelta(hours=1))
    assert run_tick()["interrupted_loads"] == 1
    b.refresh_from_db()
    assert b.status == BatchStatus.FAILED and "中断" in b.message


def test_item_codes_are_json_escaped_in_the_stored_row():
    import json

    from govshare.collect.columns import ItemSpec, check_batch

    specs = [ItemSpec('k"1', "键", primary=True), ItemSpec("名\\称", "名称")]
    checked = check_batch(pa.record_batch({'k"1': ["a"], "名\\称": ["b"]}), specs)
    assert json.loads(checked.json[0]) == {'k"1': "a", "名\\称": "b"}


def test_enumeration_accepts_the_code_of_a_coded_entry(city, published):  # R-COL-04
    from govshare.collect.services import load_rows

    resource = published(
        officer=city.police_officer,
        name="性别代码测试",
        provider=city.police.pk,
        items=[
            {"code": "sfzh", "name": "公民身份号码", "data_type": "C", "length": 18, "is_primary": True},
            {"code": "xb", "name": "性别", "data_type": "C", "enum_values": ["1 男性", "2 女性"]},
        ],
    )
    ok = load_rows(resource, [{"sfzh": A, "xb": "1"}, {"sfzh": B, "xb": "2 女性"}], actor=city.police_officer)
    assert ok.batch.inserted == 2
    bad = load_rows(resource, [{"sfzh": C, "xb": "男"}], actor=city.police_officer)
    assert bad.batch.status == "rejected"
    assert "1 男性、2 女性" in bad.batch.errors.get().message
