"""The demo city's open portal: two reviewed, versioned open datasets and a citizen ready to download.

As elsewhere in the demo, everything goes through the real services: `load_rows` for the records, the
confidentiality review for opening, the public account and identity check for the citizen (checked by
hand by the operator, since the demo configures no population resource for the gate). Idempotent.
"""

from __future__ import annotations

import datetime as dt
import random

from govshare.catalog.models import Resource
from govshare.orgs.models import User

PUBLIC_USERNAME = "citizen"
# A synthetic 公民身份号码 (region 431002, valid check digit) for the demo citizen.
_CITIZEN_ID_BODY = "43100219900307002"

_STREETS = ("人民西路", "国庆北路", "苏仙北路", "五岭大道", "郴江路", "燕泉路", "骆仙路", "北湖路")
_TOWNS = ("北湖区", "苏仙区", "桂阳县", "宜章县", "永兴县", "资兴市")


def _pharmacies(seed: int = 4310) -> list[dict]:
    rnd = random.Random(seed)
    rows = []
    for i in range(1, 121):
        kind = "1" if i % 4 == 0 else "2"
        town = rnd.choice(_TOWNS)
        name = f"郴州{town[:2]}{rnd.choice(('仁和', '康源', '济民', '百姓', '同心', '福康'))}" + (
            "医院" if kind == "1" else "大药房"
        )
        rows.append(
            {
                "ddjgbm": f"H431{i:08d}"[:12],
                "jgmc": f"{name}{i:03d}号店" if kind == "2" else f"{name}（{i:03d}）",
                "jglx": kind,
                "dz": f"湖南省郴州市{town}{rnd.choice(_STREETS)}{rnd.randrange(1, 400)}号",
                "jsdj": rnd.choice(("一级", "二级", "三级")) if kind == "1" else "零售",
                "xyrq": (dt.date(2019, 1, 1) + dt.timedelta(days=rnd.randrange(0, 2400))).isoformat(),
            }
        )
    return rows


def load_open(users: dict[str, User]) -> None:
    from govshare.collect.services import load_rows
    from govshare.opendata import services
    from govshare.opendata.models import OpenDataset

    resource = Resource.objects.filter(name="定点医药机构信息", provider__name="郴州市医疗保障局").first()
    if resource is None or not resource.is_live or OpenDataset.objects.filter(resource=resource).exists():
        _citizen(users)
        return
    officer = users["ybj"]
    load_rows(resource, _pharmacies(), actor=officer, idempotency_key="demo-ybj-ddjg-1")
    services.review_and_open(
        officer,
        resource,
        domain="medical",
        rules={i.code: "plain" for i in resource.items.all()},
        conclusion="经保密审查：定点医药机构名单属主动公开信息，不涉及国家秘密、商业秘密和个人隐私，可以无条件开放",
        description="全市医保定点医疗机构和定点零售药店名单，含机构类型、地址和结算等级，每月更新。",
        auto_publish=True,
    )
    _citizen(users)


def _citizen(users: dict[str, User]) -> None:
    """A public account with its identity confirmed and the terms accepted, ready to download."""
    from govshare.opendata import identity
    from govshare.opendata.models import IdentityStatus
    from govshare.orgs.identifiers import ric_check_char
    from govshare.web.demo import DEMO_PASSWORD

    user = User.objects.filter(username=PUBLIC_USERNAME).first()
    if user is None:
        user = identity.register(
            username=PUBLIC_USERNAME,
            password1=DEMO_PASSWORD,
            password2=DEMO_PASSWORD,
            full_name="张晓明",
        )
    profile = identity.profile_of(user)
    if profile.identity_status != IdentityStatus.VERIFIED:
        number = _CITIZEN_ID_BODY + ric_check_char(_CITIZEN_ID_BODY)
        profile = identity.submit_identity(user, "张晓明", number)
        if profile.identity_status == IdentityStatus.PENDING:
            identity.decide_identity(
                users["operator"], profile.pk, confirm=True, note="演示账号，人工核验通过"
            )
    if identity.accepted_terms(user) is None:
        identity.accept_terms(user, identity.TERMS_VERSION)
