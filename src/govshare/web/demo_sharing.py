"""The demo city's shared data: records loaded, a client system, one approved grant and one pending application.

Everything goes through the real services — `load_rows` for records, the sharing workflow for the
application and its approval — so the provider's inbox, the consumer's grants, the usage log and the
delivery API all have something true to show. People are synthetic (seeded Faker names, 公民身份号码 with
real region codes, real dates and valid check digits). Idempotent like the rest of the demo.
"""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from govshare.catalog.models import Resource
from govshare.clients.models import ClientSystem, Credential
from govshare.orgs.identifiers import ric_check_char
from govshare.orgs.models import User

HOUSEHOLD = "居民户籍信息"
PEOPLE = "人口基础信息"
DEMO_CLIENT = "mzj-shjz"
CREDENTIAL_LABEL = "演示凭证"
COUNTIES = ("431002", "431003", "431021", "431022", "431023", "431081")
N_PEOPLE = 300


def _people(seed: int = 431000) -> list[dict]:
    from faker import Faker

    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    rnd = random.Random(seed)
    rows = []
    for i in range(N_PEOPLE):
        born = dt.date(1950, 1, 1) + dt.timedelta(days=rnd.randrange(0, 60 * 365))
        male = rnd.random() < 0.5
        order = f"{(i % 99) + 1:02d}{rnd.choice('13579' if male else '02468')}"
        body = f"{rnd.choice(COUNTIES)}{born:%Y%m%d}{order}"
        rows.append(
            {
                "gmsfhm": body + ric_check_char(body),
                "xm": fake.name_male() if male else fake.name_female(),
                "xb": "1" if male else "2",
                "csrq": born.isoformat(),
                "hjdz": f"湖南省郴州市{fake.street_address()}",
                "hh": f"4310{i // 3:06d}",
                "yhzgx": "01" if i % 3 == 0 else "10",
            }
        )
    return rows


def _load_records(resources: dict[str, Resource], officer: User) -> None:
    from govshare.collect.services import load_rows

    people = _people()
    for name, key in ((HOUSEHOLD, "demo-household-1"), (PEOPLE, "demo-people-1")):
        resource = resources[name]
        codes = {i.code for i in resource.items.all()}
        load_rows(
            resource,
            [{k: v for k, v in p.items() if k in codes} for p in people],
            actor=officer,
            idempotency_key=key,
        )


def _client(user: User, name: str, code: str, description: str) -> ClientSystem:
    from govshare.clients.services import register_client

    existing = ClientSystem.objects.filter(code=code).first()
    return existing or register_client(user, name, code, description)


def load_sharing(users: dict[str, User]) -> None:
    from govshare.sharing import services
    from govshare.sharing.models import ShareApplication

    resources = {
        r.name: r
        for r in Resource.objects.filter(name__in=[HOUSEHOLD, PEOPLE], provider__name="郴州市公安局")
    }
    if len(resources) != 2 or not all(r.is_live for r in resources.values()):
        return
    police, consumer, school = users["police"], users["consumer"], users["jyj"]
    _load_records(resources, police)
    household = resources[HOUSEHOLD]
    aid = _client(consumer, "社会救助信息系统", DEMO_CLIENT, "低保、特困供养对象审核时核对户籍")
    registry = _client(school, "义务教育入学服务系统", "jyj-rx", "义务教育入学资格审核")
    today = timezone.localdate()
    if not ShareApplication.objects.filter(resource=household, consumer=consumer.department).exists():
        app = services.submit_application(
            consumer,
            household,
            purpose="最低生活保障、特困人员供养对象申请审核中核对申请人及其家庭成员户籍",
            duty_basis="《社会救助暂行办法》第十一条：县级人民政府民政部门对申请人家庭状况进行调查核实",
            scenario="低保申请受理后，由社会救助信息系统按公民身份号码逐人查询户籍和家庭成员",
            clients=[aid],
            items=["gmsfhm", "xm", "hh", "yhzgx", "hjdz"],
            methods=["query", "verify"],
            valid_from=today,
            valid_until=today + dt.timedelta(days=365),
            terms_accepted=True,
        )
        services.approve_application(
            police,
            app,
            items=["gmsfhm", "xm", "hh", "yhzgx", "hjdz"],
            masks={"hjdz": "keep:6:0"},
            row_filter=[],
            methods=["query", "verify"],
            valid_from=today,
            valid_until=today + dt.timedelta(days=365),
            daily_quota=None,
            comment="同意按公民身份号码逐条查询和核验；户籍地址脱敏至县级，仅用于社会救助审核，不得向第三方提供。",
        )
    _raise_doubt(consumer, household)
    if not ShareApplication.objects.filter(resource=household, consumer=school.department).exists():
        services.submit_application(
            school,
            household,
            purpose="义务教育阶段新生入学资格审核中核对学生及监护人户籍",
            duty_basis="《中华人民共和国义务教育法》第十二条",
            scenario="入学报名时按学生公民身份号码核验户籍所在地",
            clients=[registry],
            items=["gmsfhm", "xm", "hjdz"],
            methods=["verify"],
            valid_from=today,
            valid_until=today + dt.timedelta(days=180),
            terms_accepted=True,
        )


# A one-page PDF standing in for a scanned 户口簿 page: evidence is required in some profiles (NX 64).
_EVIDENCE = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def _raise_doubt(consumer: User, household: Resource) -> None:
    """One open correction ticket, so the provider's 待我核校 and the 核校中 flag show something (R-CORR-07)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from govshare.corrections.models import CorrectionTicket
    from govshare.corrections.services import raise_ticket

    if CorrectionTicket.objects.filter(resource=household, reporter_department=consumer.department).exists():
        return
    keys = _plain_keys(household, 2)
    if len(keys) < 2:
        return
    raise_ticket(
        consumer,
        resource=household,
        record_key=keys[1],
        items=["yhzgx"],
        description="低保审核中发现该申请人“与户主关系”与其提供的户口簿记载不一致，请核实",
        suggestion="以户口簿记载为准",
        evidence=[SimpleUploadedFile("户口簿复印件.pdf", _EVIDENCE, "application/pdf")],
    )


def _plain_keys(resource: Resource, n: int) -> list[str]:
    """The first records' keys as a person types them (公民身份号码 is stored blinded: 敏感, R-SEC-04)."""
    from govshare.collect.models import Record
    from govshare.collect.selectors import opened

    recs = list(Record.objects.filter(resource=resource, deleted=False).order_by("key")[:n])
    return [r.key for r in opened(resource, recs)]


def demo_credential() -> tuple[str, str, str] | None:
    """A fresh token for the demo client system, replacing the previous demo token: (client, token, example).

    Tokens are shown once and stored hashed, so each `govshare demo` run revokes the last one and prints
    a new one rather than keeping a plaintext anywhere.
    """
    from govshare.clients.services import issue_credential, revoke_credential

    client = ClientSystem.objects.filter(code=DEMO_CLIENT).first()
    household = Resource.objects.filter(name=HOUSEHOLD, provider__name="郴州市公安局").first()
    if client is None or household is None:
        return None
    owner = client.created_by
    for old in Credential.objects.filter(client=client, label=CREDENTIAL_LABEL, revoked_at__isnull=True):
        revoke_credential(owner, old, "演示环境重新签发")
    _, token = issue_credential(owner, client, CREDENTIAL_LABEL, valid_days=30)
    key = next(iter(_plain_keys(household, 1)), "")
    example = f"/api/v1/share/{household.code}/records?gmsfhm={key}"
    return client.name, token, example
