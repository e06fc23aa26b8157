"""Catalog search on a city-sized catalog, against a plain LIKE scan (issue: catalog search latency).

Target: 20,000 published resources; p95 latency of `govshare.catalog.search.search()` under 50 ms on
SQLite and on PostgreSQL, printed beside a plain `LIKE '%…%'` scan over name, abstract and item names
(page of 20 ordered by code, plus its COUNT(*)) run on the same data, same queries, same connection.

`run(quick)` is the parent side (no Django); `python -m bench.catalog_search --db LABEL …` is the worker
that builds one database, measures it and reports JSON (see bench/__init__.py).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import time
from collections import defaultdict

from bench import databases, log, report, row, run_worker, summarize
from govshare.catalog.rules import UPDATE_CYCLES

NAME = "catalog_search"
TARGET_P95_MS = 50.0
FULL = {"resources": 20_000, "queries": 200, "rounds": 5}
QUICK = {"resources": 500, "queries": 20, "rounds": 1}
SPECIAL = "企业营业执照信息"  # exactly one resource has this name; 营业执照 must rank it first
SPECIAL_QUERY = "营业执照"

# ---------------------------------------------------------------- vocabularies
#
# Departments of a prefecture-level city and the stems of the entries they catalogue, as text so that
# the list stays readable. Indented lines are stems: "stem pools catalog", where pools name ITEM_POOLS
# (joined by +) and catalog is the base/theme classification the stem belongs to, "-" for none. Names
# are "[county][year]stem suffix": 北湖区食品经营许可信息, 2019年参保缴费记录 …

_DEPARTMENTS = """
公安局 government 9
  居民户籍 person 101 | 流动人口居住登记 person 101 | 居民身份证签发 person 104 | 户籍迁移 person 101
  机动车登记 vehicle 209 | 机动车驾驶证 vehicle+person 104 | 道路交通事故处理 vehicle+penalty 209
  旅馆业治安管理 org+license - | 出入境证件签发 person+license - | 犬只登记 person - | 公安行政处罚 penalty+person 201
市场监督管理局 government 9
  企业设立登记 org 102 | 企业变更登记 org 102 | 企业注销登记 org 102 | 个体工商户营业执照 org+license 104
  农民专业合作社登记 org 102 | 企业年度报告 org+stat 201 | 食品经营许可 org+license 204 | 特种设备使用登记 org+license 205
  市场监管行政处罚 org+penalty 201 | 企业经营异常名录 org 201 | 药品零售企业许可 org+license 204 | 计量器具强制检定 org -
民政局 government 5
  婚姻登记 person 104 | 城乡低保对象 person+payment 203 | 特困人员救助供养 person+payment 203 | 社会组织登记 org 102
  养老机构备案 org+license 203 | 殡葬服务机构 org - | 残疾人两项补贴发放 person+payment 203 | 地名信息 stat -
人力资源和社会保障局 government 7
  社会保险参保缴费 person+payment 203 | 企业职工养老保险待遇 person+payment 203 | 失业保险金申领 person+payment 203
  工伤认定 person+org 203 | 职业资格证书 person+license 104 | 就业登记 person+org - | 劳动保障监察行政处罚 org+penalty 201
  技能人才评价 person -
自然资源和规划局 government 6
  不动产登记 property 103 | 不动产抵押登记 property 103 | 建设用地规划许可 project+license 207
  国有建设用地使用权出让 property+project 103 | 农村宅基地审批 property+person 103 | 矿业权登记 org+license 103
  土地利用现状调查 stat 103 | 基础测绘成果 stat 103
住房和城乡建设局 government 6
  建筑工程施工许可 project+license 207 | 商品房预售许可 project+license 207 | 商品房买卖合同备案 property+person 207
  建筑业企业资质 org+license 207 | 房屋建筑工程竣工验收备案 project 207 | 物业服务企业 org -
  公共租赁住房保障 person+property 203 | 建筑市场行政处罚 org+penalty 201
卫生健康委员会 government 6
  医疗机构执业许可 medical+license 202 | 医师执业注册 person+license+medical 202 | 护士执业注册 person+license+medical 202
  出生医学证明 person+medical 104 | 预防接种 person+medical 202 | 死亡医学证明 person+medical 101
  公共场所卫生许可 org+license 202 | 计划生育家庭特别扶助 person+payment 203
医疗保障局 government 5
  基本医疗保险参保 person+payment 203 | 医疗保险费用结算 person+payment+medical 202 | 定点医药机构 medical+org 202
  医疗救助 person+payment 203 | 异地就医备案 person+medical 202
教育局 government 5
  中小学学籍 person 208 | 民办学校办学许可 org+license 208 | 教师资格认定 person+license 104
  学前教育资助 person+payment 203 | 校外培训机构 org+license 208 | 义务教育入学 person 208
国家税务总局郴州市税务局 stationed_unit 5
  纳税人登记 org 102 | 纳税信用等级评价 org 201 | 增值税发票开具 org+payment - | 个人所得税纳税记录 person+payment -
  欠税公告 org+penalty 201 | 税务行政处罚 org+penalty 201
交通运输局 government 4
  道路运输经营许可 org+license 209 | 道路运输从业人员资格 person+license 209 | 出租汽车驾驶员 person+vehicle 209
  营运车辆 vehicle+org 209 | 公路超限运输许可 vehicle+license 209 | 交通运输行政处罚 org+penalty 201
生态环境局 government 4
  排污许可 org+license 206 | 建设项目环境影响评价审批 project+license 206 | 环境空气质量监测 stat 206
  地表水水质监测 stat 206 | 危险废物经营许可 org+license 206 | 生态环境行政处罚 org+penalty 201
农业农村局 government 4
  农村土地承包经营权 property+person 103 | 农药经营许可 org+license - | 兽药经营许可 org+license -
  家庭农场名录 org - | 耕地地力保护补贴发放 person+payment - | 动物检疫合格证明 license 204
水利局 government 3
  取水许可 org+license 206 | 水库基本情况 stat - | 河道采砂许可 org+license - | 水土保持方案审批 project+license 206
  水文监测 stat -
文化旅游广电体育局 government 3
  旅行社业务经营许可 org+license - | A级旅游景区 org - | 文物保护单位 stat+property 208 | 网吧经营许可 org+license -
  体育社会指导员 person -
应急管理局 government 4
  危险化学品经营许可 org+license 205 | 安全生产许可 org+license 205 | 烟花爆竹经营许可 org+license 205
  生产安全事故调查 org+penalty 205 | 应急救援队伍 org 205 | 自然灾害灾情统计 stat 205
司法局 government 3
  律师执业许可 person+license - | 律师事务所执业许可 org+license - | 公证员执业 person+license -
  法律援助案件 person - | 社区矫正对象 person - | 人民调解组织 org -
财政局 government 3
  政府采购合同 org+payment - | 惠民惠农财政补贴资金发放 person+payment 203 | 行政事业单位国有资产 stat -
  会计代理记账许可 org+license - | 非税收入缴款 payment -
统计局 government 2
  国民经济主要指标 stat - | 规模以上工业企业名录 org+stat - | 人口抽样调查 stat - | 居民消费价格指数 stat -
发展和改革委员会 government 3
  投资项目审批核准备案 project 207 | 信用承诺 org 105 | 失信被执行人联合惩戒 org+person+penalty 105
  守信激励对象 org 105 | 重点项目建设进度 project+stat - | 价格监测 stat -
工业和信息化局 government 2
  规上工业企业运行监测 org+stat - | 专精特新中小企业 org - | 无线电台执照 org+license -
商务局 government 2
  对外贸易经营者备案 org - | 单用途商业预付卡备案 org - | 外商投资企业 org 102
退役军人事务局 government 2
  退役军人信息采集 person - | 优抚对象抚恤补助 person+payment 203 | 退役士兵安置 person -
林业局 government 2
  林木采伐许可 org+license 206 | 林权登记 property+person 103 | 古树名木 stat 206
城市管理综合执法局 government 3
  城市道路挖掘许可 project+license - | 户外广告设置许可 org+license - | 城市管理行政处罚 org+person+penalty 201
  渣土运输核准 vehicle+license -
审计局 government 1
  审计项目 project - | 审计发现问题整改 org -
民族宗教事务委员会 government 1
  宗教活动场所登记 org+license - | 宗教教职人员备案 person -
中级人民法院 judicial 2
  失信被执行人 person+org+penalty 105 | 限制高消费人员 person+penalty 105 | 民事判决书 person+org -
人民检察院 judicial 1
  公益诉讼案件 org - | 行政检察监督 org -
住房公积金管理中心 public_institution 3
  住房公积金缴存 person+payment 203 | 住房公积金提取 person+payment 203 | 住房公积金贷款 person+payment+property 203
不动产登记中心 public_institution 4
  不动产权证书 property+person 104 | 不动产查封登记 property 103 | 存量房交易 property+person 207
气象局 stationed_unit 1
  气象灾害预警 stat 205 | 地面气象观测 stat -
国网郴州供电公司 public_utility 2
  居民用电户 person+payment - | 企业用电量 org+stat -
郴州市自来水有限责任公司 public_utility 1
  居民用水户 person+payment - | 供水水质检测 stat -
烟草专卖局 stationed_unit 1
  烟草专卖零售许可证 org+license 104 | 烟草专卖行政处罚 org+penalty 201
邮政管理局 stationed_unit 1
  快递业务经营许可 org+license -
机关事务管理局 government 1
  公务用车 vehicle - | 公共机构能耗统计 stat -
行政审批服务局 authority 3
  政务服务事项办件 person+org - | 一件事一次办 person+org - | 电子证照目录 license 104
政务服务和大数据中心 operator 2
  电子印章 org+license 104 | 12345热线工单 person -
残疾人联合会 public_management 2
  残疾人证 person 104 | 残疾人就业 person+org -
"""

# Information items: "name code type[length]" separated by commas; type letters are DataType's.
_ITEMS = """
person: 姓名 xm C50, 公民身份号码 gmsfhm C18, 性别 xb C1, 出生日期 csrq D, 民族 mz C2, 户籍地址 hjdz C200,
  联系电话 lxdh C20, 现住址 xzz C200, 文化程度 whcd C2, 婚姻状况 hyzk C2
org: 统一社会信用代码 tyshxydm C18, 企业名称 qymc C200, 法定代表人 fddbr C50, 注册地址 zcdz C200, 成立日期 clrq D,
  经营范围 jyfw C2000, 注册资本 zczb N18, 登记机关 djjg C100, 营业执照号 yyzzh C30, 企业类型 qylx C20
license: 许可证编号 xkzbh C50, 许可事项 xksx C200, 发证机关 fzjg C100, 发证日期 fzrq D, 有效期起 yxqq D,
  有效期止 yxqz D, 许可状态 xkzt C2, 审批文号 spwh C50
penalty: 处罚决定书文号 cfjdswh C50, 违法行为类型 wfxwlx C50, 处罚依据 cfyj C500, 处罚结果 cfjg C500,
  罚款金额 fkje Y18, 处罚决定日期 cfjdrq D, 处罚机关 cfjgmc C100
property: 不动产单元号 bdcdyh C28, 不动产权证号 bdcqzh C50, 权利人 qlr C200, 坐落 zl C200, 建筑面积 jzmj F18,
  规划用途 ghyt C20, 权利性质 qlxz C20, 登记时间 djsj T
payment: 参保单位名称 cbdwmc C200, 险种类型 xzlx C10, 缴费基数 jfjs Y18, 缴费年月 jfny C6, 缴费金额 jfje Y18,
  参保状态 cbzt C2, 个人编号 grbh C20, 发放金额 ffje Y18
vehicle: 号牌号码 hphm C15, 号牌种类 hpzl C2, 车辆识别代号 clsbdh C17, 车辆类型 cllx C10, 机动车所有人 jdcsyr C100,
  初次登记日期 ccdjrq D, 检验有效期止 jyyxqz D
medical: 医疗机构名称 yljgmc C200, 医疗机构执业许可证登记号 yljgzyxkzdjh C50, 诊疗科目 zlkm C500, 床位数 cws I,
  机构等级 jgdj C10, 执业地点 zydd C200
project: 项目代码 xmdm C24, 项目名称 xmmc C200, 建设单位 jsdw C200, 建设地点 jsdd C200, 总投资 ztz Y18,
  开工日期 kgrq D, 竣工日期 jgrq D
stat: 统计年度 tjnd C4, 行政区划代码 xzqhdm C6, 指标名称 zbmc C100, 指标值 zbz F18, 计量单位 jldw C20
common: 数据来源 sjly C100, 更新时间 gxsj T, 备注 bz C500, 经办机构 jbjg C100, 办理日期 blrq D, 业务流水号 ywlsh C32
"""


def _parse_departments(text: str) -> list[tuple[str, str, int, list[tuple[str, list[str], str | None]]]]:
    out = []
    for line in text.strip().splitlines():
        if not line.startswith(" "):
            short, kind, weight = line.split()
            out.append((short, kind, int(weight), []))
            continue
        for stem in line.split("|"):
            name, pools, catalog = stem.split()
            out[-1][3].append((name, pools.split("+"), None if catalog == "-" else catalog))
    return out


def _parse_items(text: str) -> dict[str, list[tuple[str, str, str, int | None]]]:
    pools, current = {}, None
    for line in text.strip().splitlines():
        if not line.startswith(" "):
            current, line = line.split(":", 1)
            pools[current] = []
        for spec in filter(None, (s.strip() for s in line.split(","))):
            name, code, kind = spec.split()
            pools[current].append((name, code, kind[0], int(kind[1:]) if kind[1:] else None))
    return pools


DEPARTMENTS = _parse_departments(_DEPARTMENTS)
ITEM_POOLS = _parse_items(_ITEMS)
COUNTIES = "北湖区 苏仙区 资兴市 桂阳县 宜章县 永兴县 嘉禾县 临武县 汝城县 桂东县 安仁县".split()
SUFFIXES = "信息 信息 信息 数据 记录 名录 清单 台账 统计信息 结果信息 明细".split()
BASE = {  # code: (name, lead department)
    "101": ("人口基础信息", "公安局"),
    "102": ("法人单位基础信息", "市场监督管理局"),
    "103": ("自然资源和空间地理基础信息", "自然资源和规划局"),
    "104": ("电子证照基础信息", "政务服务和大数据中心"),
    "105": ("社会信用基础信息", "发展和改革委员会"),
}
THEME = {
    str(code): name
    for code, name in enumerate(
        "社会信用 医疗健康 社会保障 食品药品安全 安全生产 生态环境保护 城乡建设 教育文化 交通出行 市场监管".split(),
        start=201,
    )
}
PURPOSES = (
    "政务服务事项办理 跨部门业务协同 市场监管 社会信用体系建设 统计分析和辅助决策 身份和资格核验 "
    "公共服务精准推送 基层治理 行政执法 风险监测预警"
).split()


# ---------------------------------------------------------------- queries
#
# ~120 plain queries by category (two-word queries join their words with +), then filtered variants.
# The categories let the JSON show where the time goes: "broad" ones match thousands of rows.

_QUERIES = {
    "broad": "信息 数据 登记 企业 许可 记录 人员 名录 处罚 管理 行政 统计 缴费 证书 机构 监测",
    "single": "证 企 户 税 医 车 房 水 林 学 婚 矿",
    "typical": """
        营业执照 户籍 社保 参保 社会保险 不动产 医疗机构 执业许可 行政处罚 食品经营 养老 低保 婚姻登记 公积金
        住房公积金 学籍 驾驶证 机动车 施工许可 排污许可 危险化学品 特种设备 纳税 纳税信用 失信被执行人 社会组织
        残疾人 出生医学证明 医师 护士 取水许可 律师 预防接种 就业 失业保险 工伤 道路运输 出租汽车 商品房
        预售许可 宅基地 抵押 查封 环境影响评价 空气质量 水质 采伐 林权 宗教 烟草 快递 旅行社 景区 文物 网吧
        律师事务所 公证 法律援助 社区矫正 养老保险 医疗保险 医疗救助 异地就医 学前教育 教师资格 民办学校
        校外培训 增值税 个人所得税 欠税 政府采购 代理记账 价格指数 专精特新 外商投资 退役军人 优抚 古树名木
        户外广告 渣土 审计 限制高消费 判决书 公益诉讼 存量房 气象 用电 用水 电子印章 热线 统一社会信用代码
        公民身份号码 法定代表人 号牌号码 不动产单元号
    """,
    "two-word": """
        企业+注销 社会保险+缴费 不动产+抵押 医疗+许可 户籍+迁移 营业执照+个体 住房+公积金+贷款
        行政处罚+生态环境 养老+机构 道路+运输+许可 食品+许可 残疾人+补贴
    """,
    "rare": "烟花爆竹经营 农村土地承包 宗教活动场所 殡葬服务机构 单用途预付卡 无线电台执照 公路超限运输 "
    "犬只登记 河道采砂 量子通信 区块链存证 核酸检测 碳排放权 低空飞行",
}
QUERIES = [(q.replace("+", " "), cat) for cat, text in _QUERIES.items() for q in text.split()]

FILTERED = [  # (query, {facet: [values]}); provider values are department short names, resolved to ids
    ("信息", {"share_type": ["unconditional"]}),
    ("信息", {"catalog_kind": ["base"]}),
    ("登记", {"provider_id": ["市场监督管理局"]}),
    ("许可", {"open_type": ["unconditional", "conditional"]}),
    ("企业", {"catalog_kind": ["theme"], "share_type": ["conditional"]}),
    ("营业执照", {"catalog_kind": ["base"]}),
    ("不动产", {"update_cycle": ["daily"]}),
    ("社会保险", {"provider_id": ["人力资源和社会保障局"]}),
    ("处罚", {"format_category": ["database"]}),
    ("医疗", {"share_type": ["unconditional"], "update_cycle": ["realtime", "daily"]}),
    ("", {"catalog_kind": ["base"]}),
    ("", {"provider_id": ["公安局"]}),
    ("户籍", {"open_type": ["none"]}),
    ("证", {"catalog_kind": ["department"]}),
]


def query_set(n: int, dept_ids: dict[str, int], seed: int = 7) -> list[tuple[str, dict, str]]:
    """About n (query, filters, category) triples: every plain query once, then filtered variants."""
    rng = random.Random(seed)

    def resolve(filters):
        return {k: [str(dept_ids[v]) if k == "provider_id" else v for v in vs] for k, vs in filters.items()}

    plain = [(q, {}, cat) for q, cat in QUERIES]
    filtered = [(q, resolve(f), "filtered") for q, f in FILTERED]
    facets = [
        ("share_type", "unconditional"),
        ("open_type", "none"),
        ("catalog_kind", "department"),
        ("update_cycle", "monthly"),
        ("format_category", "spreadsheet"),
    ]
    while len(plain) + len(filtered) < n:
        q, _ = rng.choice(QUERIES)
        k, v = rng.choice(facets)
        filtered.append((q, {k: [v]}, "filtered"))
    out = plain + filtered
    if n >= len(out):
        return out
    # quick runs: an even sample that keeps 营业执照 and 信息
    step = len(out) / n
    picked = [out[int(i * step)] for i in range(n)]
    for must in (SPECIAL_QUERY, "信息"):
        if not any(q == must for q, _, _ in picked):
            picked[-1 if must == "信息" else -2] = next(t for t in out if t[0] == must)
    return picked


# ---------------------------------------------------------------- worker: build

# facet distributions, "value:weight …"
SHARE = "unconditional:45 conditional:45 none:10"
OPEN = "none:55 conditional:25 unconditional:20"
CYCLE = "realtime:10 daily:25 weekly:5 monthly:20 quarterly:10 half_yearly:3 yearly:17 irregular:10"
FORMAT = "database:55 spreadsheet:15 document:8 interface:15 image:2 self_describing:3 stream:1 other:1"
FORMAT_TYPE = "JSON:4 XLSX:2 CSV:2 PDF:1"
MOUNT = "table:6 interface:3 file:1"


def _weighted(rng: random.Random, spec: str) -> str:
    values, weights = zip(*(v.split(":") for v in spec.split()), strict=True)
    return rng.choices(values, [int(w) for w in weights])[0]


def _name(rng: random.Random, stem: str) -> str:
    county = rng.choice(COUNTIES) if rng.random() < 0.6 else ""
    year = f"{rng.randint(2015, 2024)}年" if rng.random() < 0.15 else ""
    return county + year + stem + rng.choice(SUFFIXES)


def _items(rng: random.Random, pools: list[str]) -> list[tuple]:
    """4–12 items: the subject's own fields first (its key first), then common ones."""
    own = list(dict.fromkeys(it for p in pools for it in ITEM_POOLS[p]))
    common = rng.sample(ITEM_POOLS["common"], len(ITEM_POOLS["common"]))
    count = rng.randint(4, 12)
    chosen = own[: max(3, count - rng.randint(0, 3))]
    return chosen + common[: max(0, count - len(chosen))]


def build(n: int, seed: int = 20240601) -> dict:
    """Bulk-create a city: ~40 departments, classifications of the three kinds, n visible resources."""
    from datetime import date, timedelta

    from django.db import transaction

    from govshare.catalog.models import Classification, InfoItem, Resource
    from govshare.orgs.identifiers import uscc_check_char
    from govshare.orgs.models import Department, Region, User

    rng = random.Random(seed)
    t0 = time.perf_counter()
    with transaction.atomic():
        province = Region.objects.create(code="430000", name="湖南省", level="province")
        city = Region.objects.create(code="431000", name="郴州市", level="city", parent=province)
        depts = []
        for i, (short, kind, _, _) in enumerate(DEPARTMENTS, start=1):
            body = f"11431000{i:09d}"
            depts.append(
                Department(
                    name=short if short.startswith(("郴州", "国家", "国网")) else f"郴州市{short}",
                    short_name=short,
                    uscc=body + uscc_check_char(body),
                    region=city,
                    level="city",
                    kind=kind,
                    platform="郴州市政务数据共享交换平台",
                )
            )
        Department.objects.bulk_create(depts)
        depts = {d.short_name: d for d in Department.objects.all()}
        user = User(username="bench", full_name="基准测试")
        user.set_unusable_password()
        user.save()

        classes = {c: Classification(code=c, name=name, kind="theme") for c, name in THEME.items()}
        for c, (name, lead) in BASE.items():
            classes[c] = Classification(code=c, name=name, kind="base", lead_department=depts[lead])
        for i, (short, _, _, _) in enumerate(DEPARTMENTS, start=1):
            classes[f"3{i:02d}"] = Classification(
                code=f"3{i:02d}", name=f"{short}信息资源", kind="department"
            )
        Classification.objects.bulk_create(classes.values())

        seq = defaultdict(int)
        weights = [w for _, _, w, _ in DEPARTMENTS]
        special_at = rng.randrange(n)
        names_seen = set()
        resources, item_specs = [], []
        for k in range(n):
            if k == special_at:
                d = next(i for i, dep in enumerate(DEPARTMENTS) if dep[0] == "市场监督管理局")
                stem, pools, catalog, name = "企业营业执照", ["org", "license"], "102", SPECIAL
            else:
                d = rng.choices(range(len(DEPARTMENTS)), weights)[0]
                stem, pools, catalog = rng.choice(DEPARTMENTS[d][3])
                name = _name(rng, stem)
                for _ in range(20):  # mostly distinct names, as in a real catalog
                    if name not in names_seen and name != SPECIAL:
                        break
                    name = _name(rng, stem)
            names_seen.add(name)
            # 30% of the stems that belong to a base or theme catalog land in the department catalog instead
            cls = classes[catalog if catalog and rng.random() < 0.7 else f"3{d + 1:02d}"]
            seq[cls.code] += 1
            dept = depts[DEPARTMENTS[d][0]]
            share, cycle = _weighted(rng, SHARE), _weighted(rng, CYCLE)
            chosen = _items(rng, pools)
            item_specs.append(chosen)
            scope = rng.choice(["全市", "本部门", "各县市区", "市本级", ""])
            abstract = (
                f"{dept.name}依法履职过程中形成的{scope}{stem}相关数据，包括"
                f"{'、'.join(it[0] for it in chosen[:3])}等{len(chosen)}个信息项，"
                f"{UPDATE_CYCLES[cycle]}更新，主要用于{rng.choice(PURPOSES)}。"
            )
            resources.append(
                Resource(
                    code=f"{cls.code}/{seq[cls.code]:06d}",
                    classification=cls,
                    sequence=seq[cls.code],
                    catalog_kind=cls.kind,
                    status="retiring" if rng.random() < 0.02 else "published",
                    version=rng.randint(1, 4),
                    name=name,
                    abstract=abstract,
                    provider=dept,
                    provider_code=dept.uscc,
                    lead_department=cls.lead_department if cls.kind != "department" else None,
                    format_category=_weighted(rng, FORMAT),
                    format_type=_weighted(rng, FORMAT_TYPE),
                    share_type=share,
                    share_condition="" if share == "unconditional" else "经数据提供部门审核同意后共享。",
                    share_methods=rng.sample(["query", "verify", "batch", "table_sync"], rng.randint(1, 2)),
                    usage_requirements="仅用于本部门履职，不得向第三方提供。",
                    open_type=_weighted(rng, OPEN),
                    update_cycle=cycle,
                    mount_kind=_weighted(rng, MOUNT),
                    publish_date=date(2021, 1, 1) + timedelta(days=rng.randrange(1400)),
                    created_by=user,
                )
            )
        Resource.objects.bulk_create(resources, batch_size=2000)
        if not all(r.pk for r in resources):  # SQLite and PostgreSQL both return ids from bulk_create
            raise RuntimeError("bulk_create did not return primary keys")
        items = [
            InfoItem(
                resource=res,
                position=pos,
                code=code,
                name=name,
                data_type=dtype,
                length=length,
                is_primary=pos == 1,
                is_required=pos <= 2,
                is_indexed=pos <= 3,
                share_type=res.share_type,
            )
            for res, chosen in zip(resources, item_specs, strict=True)
            for pos, (name, code, dtype, length) in enumerate(chosen, start=1)
        ]
        InfoItem.objects.bulk_create(items, batch_size=5000)
    return {
        "resources": len(resources),
        "items": len(items),
        "departments": len(depts),
        "classifications": len(classes),
        "special_id": resources[special_at].pk,
        "generate_s": round(time.perf_counter() - t0, 2),
        "dept_ids": {short: d.pk for short, d in depts.items()},
    }


def index_all() -> float:
    """Index every visible resource with the real `reindex_resource`, one transaction."""
    from django.db import connection, transaction

    from govshare.catalog.models import Resource
    from govshare.catalog.search import reindex_resource

    t0 = time.perf_counter()
    with transaction.atomic():
        qs = Resource.objects.select_related("provider").prefetch_related("items").order_by("pk")
        for res in qs.iterator(chunk_size=2000):
            reindex_resource(res)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return time.perf_counter() - t0


# ---------------------------------------------------------------- worker: measure

LIKE_TERM = (
    "(r.name LIKE %s OR r.abstract LIKE %s OR EXISTS (SELECT 1 FROM catalog_infoitem i "
    "WHERE i.resource_id = r.id AND i.name LIKE %s))"
)


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def peer_sql(q: str, filters: dict) -> tuple[str, list]:
    """WHERE clause of the LIKE peer: every whitespace-separated word must appear somewhere."""
    where, params = ["r.status IN ('published', 'retiring')"], []
    for word in q.split():
        where.append(LIKE_TERM.replace("LIKE %s", "LIKE %s ESCAPE '\\'"))
        params += [_like(word)] * 3
    for k, vs in filters.items():
        where.append(f"r.{k} IN ({', '.join(['%s'] * len(vs))})")
        params += vs
    return " AND ".join(where), params


def peer_search(cur, q: str, filters: dict, limit: int | None = 20) -> tuple[int, list[int]]:
    where, params = peer_sql(q, filters)
    cur.execute(f"SELECT COUNT(*) FROM catalog_resource r WHERE {where}", params)
    total = cur.fetchone()[0]
    tail = f" LIMIT {int(limit)}" if limit else ""
    cur.execute(f"SELECT r.id FROM catalog_resource r WHERE {where} ORDER BY r.code{tail}", params)
    return total, [r[0] for r in cur.fetchall()]


def measure(queries, rounds: int) -> dict:
    """Time search() and the LIKE peer on every query, `rounds` times, interleaved query by query."""
    from django.db import connection

    from govshare.catalog.search import search

    samples = []  # (side, category, round, ms)
    totals = {}  # (q, filters) -> [ours total, peer total]
    with connection.cursor() as cur:
        for q, f, _ in queries:  # warm-up: caches, plans, page cache
            search(q, f, per_page=20)
            peer_search(cur, q, f)
        for rnd in range(rounds):
            gc.collect()
            order = list(queries)
            random.Random(rnd).shuffle(order)
            for q, f, cat in order:
                # alternate which side goes first so neither always runs on the warmer cache
                for side in ("ours", "peer") if rnd % 2 == 0 else ("peer", "ours"):
                    t = time.perf_counter_ns()
                    if side == "ours":
                        total = search(q, f, per_page=20).total
                    else:
                        total, _ = peer_search(cur, q, f)
                    samples.append((side, cat, rnd, (time.perf_counter_ns() - t) / 1e6))
                    totals.setdefault((q, repr(f)), [None, None])[side == "peer"] = total

    def pick(side, cat=None, rnd=None):
        return [ms for s, c, r, ms in samples if s == side and cat in (None, c) and rnd in (None, r)]

    cats = sorted({c for _, c, _, _ in samples})
    return {
        "ours": summarize(pick("ours")),
        "peer": summarize(pick("peer")),
        "ours_by_category": {c: summarize(pick("ours", c)) for c in cats},
        "peer_by_category": {c: summarize(pick("peer", c)) for c in cats},
        "round_p95": {
            s: [round(summarize(pick(s, rnd=r))["p95"], 2) for r in range(rounds)] for s in ("ours", "peer")
        },
        "totals": [{"q": q, "filters": f, "ours": t[0], "peer": t[1]} for (q, f), t in totals.items()],
    }


def recall(queries) -> dict:
    """Every row the LIKE scan finds must be found by search() too (search also matches provider and code)."""
    from django.db import connection

    from govshare.catalog.search import search

    missed = []
    with connection.cursor() as cur:
        for q, f, _ in queries:
            if not q.strip():
                continue
            ours = search(q, f, per_page=10**9)
            _, like_ids = peer_search(cur, q, f, limit=None)
            lost = set(like_ids) - set(ours.ids)
            if lost:
                missed.append({"q": q, "filters": f, "missed": len(lost)})
    return {"queries": len({(q, repr(f)) for q, f, _ in queries if q.strip()}), "missed": missed}


def rank_check(special_id: int) -> dict:
    from govshare.catalog.models import Resource
    from govshare.catalog.search import search

    res = search(SPECIAL_QUERY, per_page=5)
    names = dict(Resource.objects.filter(pk__in=res.ids).values_list("pk", "name"))
    return {
        "query": SPECIAL_QUERY,
        "total": res.total,
        "first": names.get(res.ids[0]) if res.ids else None,
        "top5": [names[i] for i in res.ids],
        "ok": bool(res.ids) and res.ids[0] == special_id,
        "exactly_one_named": Resource.objects.filter(name=SPECIAL).count() == 1,
    }


def worker(argv: list[str] | None = None) -> None:
    from bench import django_setup

    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--resources", type=int, default=FULL["resources"])
    ap.add_argument("--queries", type=int, default=FULL["queries"])
    ap.add_argument("--rounds", type=int, default=FULL["rounds"])
    a = ap.parse_args(argv)

    t0 = time.perf_counter()
    django_setup()
    from django.db import connection

    migrate_s = time.perf_counter() - t0
    log(f"  [{a.db}] migrated in {migrate_s:.1f} s; generating {a.resources} resources …")
    built = build(a.resources)
    log(
        f"  [{a.db}] {built['resources']} resources, {built['items']} items in {built['generate_s']:.1f} s; indexing …"
    )
    index_s = index_all()
    log(f"  [{a.db}] indexed in {index_s:.1f} s; measuring …")
    rank = rank_check(built["special_id"])
    mark = "first" if rank["ok"] else f"NOT first (got {rank['first']})"
    log(f"  [{a.db}] {SPECIAL_QUERY} → {SPECIAL} ranks {mark}; top: {' / '.join(rank['top5'])}")
    queries = query_set(a.queries, built.pop("dept_ids"))
    load_before = os.getloadavg()[0]
    m = measure(queries, a.rounds)
    load_after = os.getloadavg()[0]
    rec = recall(queries)
    report(
        {
            "database": a.db,
            "vendor": connection.vendor,
            "server_version": getattr(connection, "pg_version", None),
            "sizes": {"resources": a.resources, "queries": len(queries), "rounds": a.rounds},
            "setup": {"migrate_s": round(migrate_s, 2), **built, "index_s": round(index_s, 2)},
            "loadavg_1min": {"before": load_before, "after": load_after},
            "rank_check": rank,
            "recall": rec,
            **m,
        }
    )


# ---------------------------------------------------------------- parent side


def run(quick: bool) -> list[dict]:
    sizes = QUICK if quick else FULL
    args = [f"--{k}={v}" for k, v in sizes.items()]
    rows = []
    with databases(NAME) as (dbs, skipped):
        for db in dbs:
            r = run_worker(NAME, db, args)
            rows += rows_for(r)
        for label, reason in skipped.items():
            rows.append(row(NAME, label, "skipped", None, verdict=f"skipped: {reason}"))
    return rows


def rows_for(r: dict) -> list[dict]:
    """Table rows for one database's report; the full report rides along as `raw` on the first row."""
    db, ours, peer, setup = r["database"], r["ours"], r["peer"], r["setup"]
    sizes = r["sizes"]
    out = []
    for p in ("p50", "p95", "p99"):
        extra = {}
        target, verdict = None, "—"
        if p == "p95":
            target = f"< {TARGET_P95_MS:g} ms"
            verdict = "met" if ours[p] < TARGET_P95_MS else "NOT met"
            extra["per_round"] = r["round_p95"]
        out.append(
            row(
                NAME,
                db,
                f"search latency {p}",
                round(ours[p], 2),
                round(peer[p], 2),
                target,
                verdict,
                unit="ms",
                **extra,
            )
        )
    broad_o, broad_p = r["ours_by_category"].get("broad"), r["peer_by_category"].get("broad")
    if broad_o:
        out.append(
            row(
                NAME,
                db,
                "p95 of broad queries (信息, 企业 …)",
                round(broad_o["p95"], 2),
                round(broad_p["p95"], 2),
                unit="ms",
            )
        )
    rounds = r["round_p95"]["ours"]
    out.append(
        row(
            NAME,
            db,
            "search p95 per round, min–max",
            f"{min(rounds):.1f}–{max(rounds):.1f}",
            "{:.1f}–{:.1f}".format(min(r["round_p95"]["peer"]), max(r["round_p95"]["peer"])),
            unit="ms",
        )
    )
    rc = r["rank_check"]
    ok = rc["ok"] and rc["exactly_one_named"]
    out.append(
        row(
            NAME,
            db,
            f"{SPECIAL_QUERY} ranks {SPECIAL} first",
            "yes" if rc["ok"] else f"no: {rc['first']}",
            None,
            "yes",
            "met" if ok else "NOT met",
            check=True,
            detail=rc,
        )
    )
    missed = r["recall"]["missed"]
    out.append(
        row(
            NAME,
            db,
            "queries where search() misses a LIKE hit",
            len(missed),
            None,
            0,
            "met" if not missed else "NOT met",
            check=True,
            detail=r["recall"],
        )
    )
    out.append(
        row(
            NAME,
            db,
            "setup: migrate / generate / index (s)",
            f"{setup['migrate_s']:.1f} / {setup['generate_s']:.1f} / {setup['index_s']:.1f}",
            detail={k: setup[k] for k in ("resources", "items", "departments", "classifications")},
        )
    )
    load = r["loadavg_1min"]
    out.append(
        row(
            NAME,
            db,
            "host load average (1 min) before / after",
            f"{load['before']:.1f} / {load['after']:.1f}",
            detail=f"{os.cpu_count()} cores; {sizes['resources']} resources, "
            f"{sizes['queries']} queries × {sizes['rounds']} rounds",
        )
    )
    out[0]["raw"] = r
    return out


if __name__ == "__main__":
    worker()
