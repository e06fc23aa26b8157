"""Provider pages for loading data: upload, batch report, history (issue #4)."""

import io

import pytest
from django.test import Client
from tests.test_collect_load import A, B

from govshare.collect.models import Batch, BatchStatus, Record


@pytest.fixture
def police(city, settings):
    settings.GOVSHARE_COLLECT_INLINE = True
    c = Client()
    c.force_login(city.police_officer)
    return c


def upload(client, resource, text, encoding="gbk", **extra):
    f = io.BytesIO(text.encode(encoding))
    f.name = "人口.csv"
    return client.post(f"/collect/{resource.code}/", {"file": f, "mode": "upsert", **extra})


def test_index_lists_the_departments_table_resources(city, people, police):
    page = police.get("/collect/").content.decode()
    assert people.name in page and "未挂接数据" in page


def test_upload_with_bad_rows_writes_nothing_and_reports_each_row(city, people, police):  # R-COL-04
    r = upload(police, people, f"公民身份号码,姓名\n{A},张三\n431002198001010010,李四\n{B},\n")
    assert r.status_code == 302
    batch = Batch.objects.get()
    assert batch.status == BatchStatus.REJECTED and batch.encoding == "gb18030"
    page = police.get(r["Location"]).content.decode()
    assert "校验码错误" in page and "为必填项" in page
    assert "<td>3</td>" in page and "<td>4</td>" in page  # the file's own line numbers
    assert not Record.objects.exists()
    fixed = upload(police, people, f"公民身份号码,姓名\n{A},张三\n{B},李四\n")
    assert (
        Batch.objects.get(pk=int(fixed["Location"].rstrip("/").split("/")[-1])).status
        == BatchStatus.COMMITTED
    )
    page = police.get(f"/collect/{people.code}/").content.decode()
    assert 'id="last-seq">2<' in page and "李四" in page


def test_other_departments_do_not_see_the_load_page(city, people):
    c = Client()
    c.force_login(city.market_officer)
    assert c.get(f"/collect/{people.code}/").status_code == 404


def test_accept_valid_from_the_page_quarantines(city, people, police):
    upload(police, people, f"公民身份号码,姓名\n{A},张三\nbad,李四\n", accept_valid="on")
    b = Batch.objects.get()
    assert b.status == BatchStatus.PARTIAL and b.rows_rejected == 1
    assert Record.objects.count() == 1
