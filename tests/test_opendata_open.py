"""Opening a catalog entry: confidentiality review, per-item de-identification, dated versions (issue #7)."""

import csv
import io

import pytest
from django.core.files.storage import default_storage
from tests.test_collect_load import A, B, C

from govshare.audit.models import AuditEvent
from govshare.collect.services import load_rows
from govshare.errors import DomainError, PermissionDenied, ValidationFailed
from govshare.opendata import services
from govshare.opendata.models import DatasetStatus, OpenDataset, VersionStatus

pytestmark = pytest.mark.django_db

RULES = {"sfzh": "hash", "xm": "keep:1:0", "xb": "plain", "csrq": "year", "sjhm": "suppress"}


@pytest.fixture(autouse=True)
def media(media):  # every test here writes files: into the throwaway directory
    return media


@pytest.fixture
def population(city, people):
    load_rows(
        people,
        [
            {"sfzh": A, "xm": "张三丰", "xb": "男", "csrq": "1980-01-01", "sjhm": "13812345678"},
            {"sfzh": B, "xm": "李四", "xb": "女", "csrq": "1990-02-15", "sjhm": "13912345678"},
        ],
        actor=city.police_officer,
    )
    return people


def open_it(city, resource, **kw):
    kw.setdefault("domain", "statistics")
    kw.setdefault("rules", RULES)
    kw.setdefault("conclusion", "经保密审查，不涉及国家秘密；个人信息已去标识化")
    return services.review_and_open(city.police_officer, resource, **kw)


def read_csv(version) -> list[list[str]]:
    with default_storage.open(version.file.name, "rb") as fh:
        return list(csv.reader(io.StringIO(fh.read().decode("utf-8-sig"))))


def test_opening_needs_a_review_of_every_item(city, population):  # R-OPEN-06
    with pytest.raises(ValidationFailed) as err:
        open_it(city, population, rules={"xm": "keep:1:0"}, conclusion="")
    codes = {(e["field"], e["code"]) for e in err.value.detail["errors"]}
    assert ("conclusion", "required") in codes and ("rules.sfzh", "rule_required") in codes
    with pytest.raises(ValidationFailed) as err:
        open_it(city, population, rules=dict.fromkeys(RULES, "suppress"))
    assert err.value.detail["errors"][0]["code"] == "nothing_open"
    with pytest.raises(ValidationFailed) as err:
        open_it(city, population, rules=RULES | {"xb": "keep:x"})
    assert err.value.detail["errors"][0]["code"] == "invalid_rule"
    assert not OpenDataset.objects.exists()


def test_only_the_provider_or_its_authority_reviews(city, population):  # R-OPEN-06
    with pytest.raises(PermissionDenied):
        services.review_and_open(
            city.civil_officer, population, domain="statistics", rules=RULES, conclusion="可以开放"
        )
    assert services.review_and_open(
        city.reviewer, population, domain="statistics", rules=RULES, conclusion="可以开放"
    ).is_open


def test_not_open_or_secret_entries_cannot_be_opened(city, published):  # R-OPEN-02
    closed = published(
        name="不开放的目录", open_type="none", legal_basis="《中华人民共和国个人信息保护法》第十三条"
    )
    with pytest.raises(DomainError) as err:
        services.review_and_open(
            city.market_officer,
            closed,
            domain="enterprise",
            rules={"tyshxydm": "plain", "qymc": "plain", "fddbr": "plain", "clrq": "plain"},
            conclusion="可以",
        )
    assert err.value.code == "not_openable"


def test_a_version_is_the_deidentified_snapshot_with_its_digest(city, population):  # R-OPEN-05, R-OPEN-06
    dataset = open_it(city, population)
    dataset.refresh_from_db()
    version = dataset.current
    assert dataset.name == "r" + population.code.replace("/", "-")
    assert (version.number, version.status, version.rows) == (1, VersionStatus.READY, 2)
    rows = read_csv(version)
    assert rows[0] == ["公民身份号码", "姓名", "性别", "出生日期"]  # 手机号码 suppressed
    body = {r[2]: r for r in rows[1:]}
    assert body["男"][1] == "张**" and body["男"][3] == "1980"
    assert len(body["男"][0]) == 32 and A not in body["男"][0]  # salted hash, not the ID
    assert version.preview == rows[1:]
    import hashlib

    with default_storage.open(version.file.name, "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == version.sha256
    assert version.xlsx_file.name.endswith(".xlsx")
    review = version.review
    assert (review.reviewer, review.conclusion) == (
        city.police_officer,
        "经保密审查，不涉及国家秘密；个人信息已去标识化",
    )
    assert AuditEvent.objects.filter(action="open.open", object_id=str(dataset.pk)).exists()


def test_new_loads_need_a_new_review_unless_auto_publish(city, population):  # R-OPEN-06
    dataset = open_it(city, population)
    load_rows(
        population, [{"sfzh": C, "xm": "王五", "xb": "男", "csrq": "1949-12-31"}], actor=city.police_officer
    )
    dataset.refresh_from_db()
    assert services.has_new_data(dataset)
    assert services.publish_new_data() == 0  # not auto-publish: the old version stays current
    dataset.refresh_from_db()
    assert dataset.current.number == 1 and dataset.current.rows == 2

    dataset = open_it(city, population, auto_publish=True)  # a new review publishes version 2
    dataset.refresh_from_db()
    assert (dataset.current.number, dataset.current.rows) == (2, 3)
    load_rows(
        population, [{"sfzh": C, "xm": "王六", "xb": "男", "csrq": "1949-12-31"}], actor=city.police_officer
    )
    assert services.publish_new_data() == 1
    dataset.refresh_from_db()
    assert dataset.current.number == 3 and dataset.current.review == dataset.reviews.order_by("-id").first()
    assert [v.number for v in dataset.versions.all()] == [3, 2, 1]  # earlier versions stay downloadable


def test_withdrawn_dataset_reopens_only_through_a_new_review(city, population):
    dataset = open_it(city, population)
    dataset = services.withdraw_dataset(city.police_officer, dataset, "数据口径调整")
    assert dataset.status == DatasetStatus.WITHDRAWN
    dataset = open_it(city, population)
    assert dataset.status == DatasetStatus.OPEN and dataset.current is not None
