"""The demo city: a realistic 郴州市 platform, loaded through the real catalog services.

``load_demo()`` is what ``govshare demo`` runs after migrating. Every catalog write goes through
``govshare.catalog.services`` exactly as a person would make it in the UI (create → submit → publish by
the authority), so versions, diffs, the responsibility list, the search index, notifications and the
negative list come out as in production. Organisations, people and classifications have no workflow and
are written directly.

It is idempotent: every row is looked up by its natural key first (region code, department name,
username, classification code, resource name + provider, demand department + service item + data name),
so running it again creates nothing. Everything runs in one transaction.

Department 统一社会信用代码 are generated, not real: the registration-authority and category characters
(11 机关, 12 事业单位, 91 企业), the region code, a 主体标识码 with a valid GB 11714 check character and
a valid GB 32100 check character. Names of people and phone numbers come from a seeded Faker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import transaction

from govshare.catalog import services
from govshare.catalog.models import (
    CatalogKind,
    Classification,
    Demand,
    NegativeListEntry,
    Resource,
    ResourceStatus,
)
from govshare.orgs.identifiers import uscc_check_char
from govshare.orgs.models import Department, DepartmentKind, Region, RegionLevel, Role, User, UserRole
from govshare.orgs.regions import current_regions
from govshare.web.demo_open import PUBLIC_USERNAME, load_open
from govshare.web.demo_sharing import load_sharing

DEMO_PASSWORD = "govshare-demo-2026"
PLATFORM = "郴州市政务数据共享交换平台"
CITY = "431000"
FAKER_SEED = 431000

# --- departments ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dept:
    key: str
    name: str
    short_name: str
    kind: str = DepartmentKind.GOVERNMENT
    uscc_prefix: str = "11"  # GB 32100 登记管理部门 + 机构类别: 11 机关, 12 事业单位, 91 企业
    region: str = CITY
    level: str = RegionLevel.CITY
    officer: str | None = None  # username of the department's 数据专员 (provider + consumer)


DEPARTMENTS: tuple[Dept, ...] = (
    # CZ 6: 市人民政府政务服务管理部门负责具体工作 -> the 审批局 is the platform's authority.
    Dept("spj", "郴州市行政审批服务局", "市行政审批服务局", DepartmentKind.AUTHORITY, officer="spj"),
    Dept("zfb", "郴州市人民政府办公室", "市政府办", officer="zfb"),
    Dept("gaj", "郴州市公安局", "市公安局", officer="police"),
    Dept("scjg", "郴州市市场监督管理局", "市市场监管局", officer="provider"),
    Dept("rsj", "郴州市人力资源和社会保障局", "市人社局", officer="rsj"),
    Dept("mzj", "郴州市民政局", "市民政局", officer="mzj"),
    Dept("wjw", "郴州市卫生健康委员会", "市卫健委", officer="wjw"),
    Dept("zrzy", "郴州市自然资源和规划局", "市自然资源和规划局", officer="zrzy"),
    Dept("tax", "国家税务总局郴州市税务局", "市税务局", DepartmentKind.STATIONED_UNIT, officer="tax"),
    Dept("zjj", "郴州市住房和城乡建设局", "市住建局", officer="zjj"),
    Dept("jyj", "郴州市教育局", "市教育局", officer="jyj"),
    Dept("ybj", "郴州市医疗保障局", "市医保局", officer="ybj"),
    Dept("sthj", "郴州市生态环境局", "市生态环境局", officer="sthj"),
    Dept("fgw", "郴州市发展和改革委员会", "市发改委", officer="fgw"),
    Dept("yjj", "郴州市应急管理局", "市应急管理局", officer="yjj"),
    Dept("gxq", "郴州高新技术产业开发区管理委员会", "郴州高新区管委会", DepartmentKind.PARK_COMMITTEE, officer="gxq"),
    Dept("power", "国网湖南省电力有限公司郴州供电分公司", "国网郴州供电公司", DepartmentKind.PUBLIC_UTILITY, "91",
         officer="power"),
    Dept("sjj", "郴州市审计局", "市审计局"),
    Dept("sjzx", "郴州市政务数据服务中心", "市政务数据服务中心", DepartmentKind.OPERATOR, "12"),
    Dept("guiyang", "桂阳县政务服务和大数据管理局", "桂阳县政务服务和大数据局", region="431021",
         level=RegionLevel.COUNTY, officer="guiyang"),
    Dept("pgzx", "湖南省数字政府第三方评估中心", "第三方评估中心", DepartmentKind.PUBLIC_INSTITUTION, "12",
         region="430000", level=RegionLevel.PROVINCE),
)  # fmt: skip


def _org_code(seed: int) -> str:
    """A 9-character 主体标识码 (组织机构代码) with its GB 11714 check character."""
    body = f"{70000000 + seed * 104729 % 29999989:08d}"
    total = sum(int(c) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def demo_uscc(dept: Dept, seed: int) -> str:
    first17 = f"{dept.uscc_prefix}{dept.region}{_org_code(seed)}"
    return first17 + uscc_check_char(first17)


# --- people --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    username: str
    dept: str
    roles: tuple[str, ...]
    is_head: bool = False


P_C = (Role.PROVIDER, Role.CONSUMER)

# One account per role first: the demo command prints them in this order.
ROLE_ACCOUNTS: tuple[Person, ...] = (
    Person("authority", "spj", (Role.AUTHORITY,)),
    Person("provider", "scjg", P_C),
    Person("consumer", "mzj", (Role.CONSUMER,)),
    Person("head", "scjg", (Role.HEAD,), is_head=True),
    Person("operator", "sjzx", (Role.OPERATOR,)),
    Person("auditor", "sjj", (Role.AUDITOR,)),
    Person("evaluator", "pgzx", (Role.EVALUATOR,)),
    Person("police", "gaj", P_C),
)


def _people() -> list[Person]:
    people = list(ROLE_ACCOUNTS)
    named = {p.username for p in people}
    for d in DEPARTMENTS:
        if d.officer and d.officer not in named:
            people.append(Person(d.officer, d.key, P_C))
    for d in DEPARTMENTS:
        if d.key != "scjg":
            people.append(Person(f"{d.key}_head", d.key, (Role.HEAD,), is_head=True))
    return people


# --- classifications -----------------------------------------------------------------------------------

BASE_CLASSES = (
    ("101", "人口基础信息", "gaj"),
    ("102", "法人单位基础信息", "scjg"),
    ("103", "自然资源和空间地理基础信息", "zrzy"),
    ("104", "电子证照基础信息", "spj"),
    ("105", "社会信用基础信息", "fgw"),
)
THEME_CLASSES = (
    ("201", "医疗健康", "wjw"),
    ("202", "社会保障", "rsj"),
    ("203", "安全生产", "yjj"),
    ("204", "市场监管", "scjg"),
    ("205", "城乡建设", "zjj"),
)


def department_class_code(index: int) -> str:
    return f"3{index + 1:02d}"


# --- resources -----------------------------------------------------------------------------------------


def it(code, name, data_type, length=None, flags="", desc="", enum=()):
    """One information item. flags: p 主键, r 必填, i 检索项, b 基础信息项, s 敏感, c/n 有条件/不予共享."""
    share = "conditional" if "c" in flags else "none" if "n" in flags else ""
    return {
        "code": code, "name": name, "data_type": data_type, "length": length,
        "is_primary": "p" in flags, "is_required": "r" in flags or "p" in flags, "is_indexed": "i" in flags,
        "is_basic": "b" in flags, "is_sensitive": "s" in flags, "share_type": share, "enum_values": list(enum),
        "description": desc,
    }  # fmt: skip


SEX = ("0 未知的性别", "1 男性", "2 女性", "9 未说明的性别")  # GB/T 2261.1
USE = "仅限本部门依法履职使用，不得直接或以改变数据形式等方式提供给第三方，不得用于或变相用于其他目的（郴州办法第十九条）。"
USE_VERIFY = "以核验方式使用，只返回一致与否；核验记录留痕备查，不得留存原始数据（郴州办法第十九条）。"
PIPL = "《中华人民共和国个人信息保护法》第十三条、第三十四条"
NOT_OPEN_PERSONAL = "《中华人民共和国政府信息公开条例》第十五条（涉及个人隐私，不予公开）"
NOT_OPEN_INTERNAL = "《中华人民共和国政府信息公开条例》第十六条（内部管理信息，不予公开）"
OPEN_COND = "实名注册的公民、法人和其他组织签署数据利用协议后，通过开放平台申请获取，不得用于商业营销。"


@dataclass
class Spec:
    cls: str  # classification code, or a department key for its 3xx class
    name: str
    provider: str
    abstract: str
    items: list[dict]
    share: str = "unconditional"
    methods: tuple[str, ...] = ("query", "verify")
    share_condition: str = ""
    open: str = "none"
    open_condition: str = ""
    legal_basis: str = ""
    cycle: str = "daily"
    fmt: tuple[str, str] = ("database", "JSON")
    mount: tuple[str, str] = ("table", "")
    usage: str = USE
    related: tuple[str, ...] = ()
    state: str = "published"  # published | submitted | returned | draft
    comment: str = ""  # the authority's comment when returned
    extra: dict = field(default_factory=dict)


SID = it("gmsfhm", "公民身份号码", "C", 18, "p", "GB 11643")
XM = it("xm", "姓名", "C", 50, "ri")
USCC_KEY = it("tyshxydm", "统一社会信用代码", "C", 18, "p", "GB 32100")


def _specs() -> list[Spec]:
    return [
        # --- 基础信息资源目录 ---------------------------------------------------------------------------
        Spec("101", "人口基础信息", "gaj",
             "全市户籍人口和登记流动人口的基础身份信息，以公民身份号码为唯一标识，是全市人口基础库的权威来源。",
             [it("gmsfhm", "公民身份号码", "C", 18, "pb", "GB 11643"), it("xm", "姓名", "C", 50, "rib"),
              it("xb", "性别", "C", 1, "b", enum=SEX), it("csrq", "出生日期", "D", 8, "b"),
              it("mz", "民族", "C", 2, "b", "GB/T 3304"), it("hjdz", "户籍地址", "C", 200, "b"),
              it("hyzk", "婚姻状况", "C", 2, "c", "仅向婚姻登记、社会救助、住房保障事项办理部门提供（GB/T 2261.2）"),
              it("swbs", "死亡标识", "L", 1)],
             methods=("query", "verify", "table_sync"), cycle="realtime", legal_basis=f"{PIPL}；{NOT_OPEN_PERSONAL}",
             share_condition="婚姻状况信息项仅向办理婚姻登记、社会救助、住房保障事项的部门提供。",
             mount=("table", "人口基础库 rk_jbxx")),
        Spec("102", "法人单位基础信息", "scjg",
             "在本市登记的企业、机关、事业单位、社会组织等法人单位的基础信息，以统一社会信用代码为唯一标识。",
             [it("tyshxydm", "统一社会信用代码", "C", 18, "pb"), it("dwmc", "单位名称", "C", 200, "rib"),
              it("dwlx", "单位类型", "C", 4, "b"), it("fddbr", "法定代表人（负责人）", "C", 50, "b"),
              it("zs", "住所", "C", 200, "b"), it("clrq", "成立日期", "D", 8, "b"),
              it("djzt", "登记状态", "C", 2, "b", enum=("1 存续", "2 注销", "3 吊销", "4 撤销")),
              it("djjg", "登记机关", "C", 100)],
             methods=("query", "verify", "table_sync"), open="unconditional", mount=("table", "法人基础库 fr_jbxx")),
        Spec("103", "标准地名地址信息", "zrzy",
             "全市标准地名和门楼牌地址，含行政区划、街路巷、门牌号和空间坐标，用于地址规范化和空间定位。",
             [it("dzbm", "地址编码", "C", 32, "p"), it("xzqhdm", "行政区划代码", "C", 6, "rb", "GB/T 2260"),
              it("jlxmc", "街路巷名称", "C", 100, "ib"), it("mph", "门牌号", "C", 20, "b"),
              it("bzdz", "标准地址", "C", 200, "rib"), it("jd", "经度", "F", 12, "b", "CGCS2000"),
              it("wd", "纬度", "F", 12, "b", "CGCS2000")],
             methods=("query", "batch"), open="unconditional", cycle="monthly",
             mount=("table", "地名地址库 dm_bzdz")),
        Spec("104", "电子证照目录信息", "spj",
             "全市各部门签发的电子证照（营业执照、许可证、资格证等）的目录和照面信息，支持持证主体查询和证照真伪核验。",
             [it("zzbh", "证照编号", "C", 64, "p"), it("zzlx", "证照类型", "C", 100, "rib"),
              it("czzt", "持证主体", "C", 200, "rib"), it("czztdm", "持证主体代码", "C", 18, "rib",
                                                             "公民身份号码或统一社会信用代码"),
              it("bzdw", "颁证单位", "C", 200, "b"), it("bzrq", "颁证日期", "D", 8, "b"),
              it("yxqz", "有效期至", "D", 8, "b"), it("zzwj", "证照文件", "B", None, "c", "加盖电子印章的版式文件（OFD）")],
             methods=("query", "verify"), cycle="realtime", fmt=("interface", "OFD/JSON"),
             legal_basis=f"{PIPL}；{NOT_OPEN_PERSONAL}",
             share_condition="证照版式文件仅向办理相关政务服务事项的部门提供。",
             mount=("interface", "共享平台电子证照服务：/gateway/dzzz/v1/licenses（查询）、/verify（核验）")),
        Spec("105", "公共信用综合评价信息", "fgw",
             "本市市场主体的公共信用综合评价结果，由市信用信息共享平台按国家公共信用综合评价指标体系按月计算。",
             [USCC_KEY | {"is_basic": True}, it("ztmc", "主体名称", "C", 200, "rib"), it("pjdj", "评价等级", "C", 1, "b",
                                                              enum=("A", "B", "C", "D")),
              it("pjfz", "评价分值", "N", 6), it("pjrq", "评价日期", "D", 8, "b")],
             methods=("query", "batch"), cycle="monthly", legal_basis=NOT_OPEN_INTERNAL,
             mount=("table", "信用信息库 xy_zhpj")),
        Spec("105", "严重失信主体名单信息", "fgw",
             "依法依规认定并公示的严重失信主体名单，含认定依据、认定部门和有效期，用于联合惩戒。",
             [USCC_KEY | {"is_basic": True}, it("ztmc", "主体名称", "C", 200, "rib"), it("rdyy", "列入原因", "M", None, "b"),
              it("rdbm", "认定部门", "C", 100, "b"), it("lrrq", "列入日期", "D", 8, "b"), it("yxqz", "有效期至", "D", 8, "b")],
             methods=("query", "verify"), open="unconditional", related=("公共信用综合评价信息",),
             mount=("table", "信用信息库 xy_yzsx")),
        # --- 主题信息资源目录 ---------------------------------------------------------------------------
        Spec("201", "医疗机构执业许可信息", "wjw",
             "全市医疗机构执业许可证的登记和变更信息，含机构类别、诊疗科目和床位数。",
             [it("xkzdjh", "许可证登记号", "C", 30, "p"), USCC_KEY | {"is_primary": False, "is_indexed": True},
              it("jgmc", "机构名称", "C", 200, "ri"), it("jglb", "机构类别", "C", 50),
              it("zlkm", "诊疗科目", "M"), it("cws", "床位数", "I", 6), it("fzrq", "发证日期", "D", 8),
              it("yxqz", "有效期至", "D", 8)],
             open="unconditional", cycle="weekly", mount=("table", "卫生健康库 wj_yljgxk")),
        Spec("201", "出生医学证明信息", "wjw",
             "本市助产机构签发的出生医学证明，含新生儿和父母身份信息，用于户口登记、入学和医保参保。",
             [it("csyxzmbh", "出生医学证明编号", "C", 10, "p"), it("xsexm", "新生儿姓名", "C", 50, "ri"),
              it("xb", "性别", "C", 1, enum=SEX), it("cssj", "出生时间", "T", 14),
              it("mqxm", "母亲姓名", "C", 50), it("mqsfzh", "母亲公民身份号码", "C", 18, "i"),
              it("fqxm", "父亲姓名", "C", 50), it("fqsfzh", "父亲公民身份号码", "C", 18, "i"),
              it("qfjg", "签发机构", "C", 200)],
             share="conditional", methods=("query", "verify"),
             share_condition="仅向办理户口登记、义务教育入学、城乡居民医保参保事项的部门提供，按新生儿或父母身份号码逐条查询。",
             legal_basis="《中华人民共和国个人信息保护法》第二十八条、第三十四条；《中华人民共和国母婴保健法》",
             mount=("table", "卫生健康库 wj_csyxzm")),
        Spec("201", "医师执业注册信息", "wjw",
             "在本市注册执业的医师的执业证书信息，含执业类别、执业范围和主要执业机构。",
             [it("zyzsbm", "医师执业证书编码", "C", 15, "p"), it("xm", "姓名", "C", 50, "ri"),
              it("zylb", "执业类别", "C", 20, enum=("临床", "中医", "口腔", "公共卫生")),
              it("zyfw", "执业范围", "C", 100), it("zyjg", "主要执业机构", "C", 200, "i"), it("zcrq", "注册日期", "D", 8)],
             open="unconditional", cycle="weekly", related=("医疗机构执业许可信息",),
             mount=("table", "卫生健康库 wj_yszc")),
        Spec("202", "社会保险参保信息", "rsj",
             "本市职工和城乡居民养老、工伤、失业保险的参保登记和缴费状态。",
             [SID, XM, it("cbdw", "参保单位名称", "C", 200), it("cbdwdm", "参保单位统一社会信用代码", "C", 18, "i"),
              it("xz", "险种", "C", 3, "r", enum=("110 企业职工基本养老保险", "120 机关事业单位养老保险",
                                                "170 城乡居民基本养老保险", "210 失业保险", "410 工伤保险")),
              it("cbzt", "参保状态", "C", 1, "r", enum=("1 参保缴费", "2 暂停缴费", "3 终止参保")),
              it("cbrq", "参保日期", "D", 8), it("jfys", "累计缴费月数", "I", 4), it("jfjs", "缴费基数", "Y", 12, "c")],
             share="conditional", methods=("query", "verify"), cycle="daily",
             share_condition="仅向办理社会救助、就业创业、人才引进、住房保障事项的部门提供，按事项所需信息项查询或核验，不批量提供。",
             legal_basis=f"{PIPL}；《中华人民共和国社会保险法》第八十一条",
             mount=("table", "社保业务库 sb_cbxx")),
        Spec("202", "医疗保险参保信息", "ybj",
             "本市职工基本医疗保险和城乡居民基本医疗保险的参保登记、缴费和待遇享受状态。",
             [SID, XM, it("xzlx", "险种类型", "C", 3, "r", enum=("310 职工基本医疗保险", "390 城乡居民基本医疗保险")),
              it("cbzt", "参保状态", "C", 1, "r"), it("cbrq", "参保日期", "D", 8),
              it("cbdw", "参保单位名称", "C", 200), it("grzhye", "个人账户余额", "Y", 12)],
             share="conditional", methods=("query", "verify"),
             share_condition="仅向办理社会救助、医疗救助、户籍迁移事项的部门提供，逐条查询。",
             legal_basis=f"{PIPL}；《中华人民共和国社会保险法》第八十一条",
             mount=("table", "医保业务库 yb_cbxx")),
        Spec("203", "安全生产许可证信息", "yjj",
             "本市矿山、危险化学品生产、烟花爆竹生产等企业的安全生产许可证核发、延期和注销信息。",
             [it("xkzbh", "许可证编号", "C", 40, "p"), USCC_KEY | {"is_primary": False, "is_indexed": True},
              it("qymc", "企业名称", "C", 200, "ri"), it("xkfw", "许可范围", "M"), it("fzjg", "发证机关", "C", 100),
              it("yxqq", "有效期起", "D", 8), it("yxqz", "有效期至", "D", 8)],
             open="unconditional", cycle="weekly", mount=("table", "应急管理库 yj_aqscxk")),
        Spec("204", "食品经营许可信息", "scjg",
             "本市食品经营者（含餐饮服务、食品销售）的食品经营许可证信息。",
             [it("xkzbh", "许可证编号", "C", 14, "p"), USCC_KEY | {"is_primary": False, "is_indexed": True},
              it("jyzmc", "经营者名称", "C", 200, "ri"), it("jycs", "经营场所", "C", 200),
              it("ztyt", "主体业态", "C", 50), it("jyxm", "经营项目", "M"), it("yxqz", "有效期至", "D", 8)],
             open="unconditional", related=("企业营业执照信息",), mount=("table", "市场监管库 sj_spjyxk")),
        Spec("204", "特种设备使用登记信息", "scjg",
             "本市电梯、锅炉、压力容器、起重机械等特种设备的使用登记和定期检验信息。",
             [it("sydjzbh", "使用登记证编号", "C", 30, "p"), it("sbzl", "设备种类", "C", 20, "r"),
              it("sbdm", "设备代码", "C", 30, "i"), it("sydw", "使用单位", "C", 200, "i"),
              it("sydd", "设备使用地点", "C", 200), it("xcjyrq", "下次检验日期", "D", 8)],
             methods=("query", "batch"), cycle="weekly", legal_basis=NOT_OPEN_INTERNAL,
             mount=("table", "市场监管库 sj_tzsb")),
        Spec("205", "建筑业企业资质信息", "zjj",
             "在本市注册的建筑业企业资质证书信息，含资质类别、等级和有效期。",
             [it("zzzsbh", "资质证书编号", "C", 30, "p"), USCC_KEY | {"is_primary": False, "is_indexed": True},
              it("qymc", "企业名称", "C", 200, "ri"), it("zzlb", "资质类别及等级", "M"), it("fzrq", "发证日期", "D", 8),
              it("yxqz", "有效期至", "D", 8)],
             open="unconditional", cycle="weekly", mount=("table", "住建业务库 zj_jzyzz")),
        Spec("205", "商品房预售许可信息", "zjj",
             "本市商品房预售许可证的核发信息，含项目名称、预售范围和监管账户。",
             [it("ysxkzh", "预售许可证号", "C", 30, "p"), it("xmmc", "项目名称", "C", 200, "ri"),
              it("kfqy", "开发企业", "C", 200, "i"), it("ysfw", "预售范围", "M"),
              it("ysmj", "预售面积（平方米）", "N", 12), it("jgzh", "预售资金监管账户", "C", 32), it("fzrq", "发证日期", "D", 8)],
             open="unconditional", cycle="weekly", mount=("table", "住建业务库 zj_spfys")),
        # --- 部门信息资源目录 ---------------------------------------------------------------------------
        Spec("zfb", "市政府规范性文件信息", "zfb",
             "市人民政府及市政府办公室印发的现行有效规范性文件，含文号、发布日期和有效期。",
             [it("wh", "文号", "C", 50, "p"), it("bt", "标题", "C", 200, "ri"), it("fbrq", "发布日期", "D", 8),
              it("yxq", "有效期至", "D", 8), it("qw", "全文", "B", None, "", "OFD 版式文件")],
             methods=("query", "batch"), open="unconditional", cycle="irregular", fmt=("document", "OFD"),
             mount=("file", "市政府门户网站政策文件库（每件一份 OFD 文件）")),
        Spec("gaj", "居民户籍信息", "gaj",
             "本市常住户口的户籍登记信息，含户号、与户主关系、迁入迁出记录，用于入学、社会救助和住房保障审核。",
             [SID | {"is_sensitive": True}, XM, it("hh", "户号", "C", 20, "i"), it("yhzgx", "与户主关系", "C", 2),
              it("hjdz", "户籍地址", "C", 200, "s"),
              it("qrrq", "迁入日期", "D", 8), it("qryy", "迁入原因", "C", 100), it("hklx", "户口类型", "C", 2)],
             share="conditional", methods=("query", "verify"), cycle="realtime",
             share_condition="仅向办理入学、社会救助、住房保障、户籍类政务服务事项的部门提供，按公民身份号码逐条查询。",
             legal_basis=f"{PIPL}；《中华人民共和国居民身份证法》第六条", related=("人口基础信息",),
             mount=("table", "户籍业务库 hj_czrk")),
        Spec("gaj", "机动车登记信息", "gaj",
             "本市登记的机动车的所有人、车辆类型、品牌型号和登记状态。",
             [it("hphm", "号牌号码", "C", 10, "p"), it("hpzl", "号牌种类", "C", 2, "r"), it("syr", "机动车所有人", "C", 200),
              it("syrsfzh", "所有人身份证明号码", "C", 18, "i"), it("cllx", "车辆类型", "C", 10),
              it("clpp", "车辆品牌", "C", 50), it("ccdjrq", "初次登记日期", "D", 8), it("zt", "机动车状态", "C", 2)],
             share="conditional", methods=("query", "verify"),
             share_condition="仅向办理社会救助家庭经济状况核对、住房保障审核事项的部门提供，只返回名下车辆数量和类型。",
             legal_basis=PIPL, mount=("table", "交管业务库 jg_jdcdj")),
        Spec("gaj", "犯罪记录信息", "gaj",
             "公安机关掌握的犯罪人员信息。依法不通过共享平台提供，由公安机关按《公安机关办理犯罪记录查询工作规定》受理查询。",
             [SID, XM, it("ajbh", "案件编号", "C", 30), it("zm", "罪名", "C", 100), it("pjrq", "判决日期", "D", 8)],
             share="none", methods=(), cycle="irregular",
             legal_basis="《中华人民共和国刑事诉讼法》第二百八十六条；《公安机关办理犯罪记录查询工作规定》",
             mount=("table", "不予共享（公安内网）")),
        Spec("scjg", "企业营业执照信息", "scjg",
             "本市登记注册企业的营业执照（含电子营业执照）信息，包括统一社会信用代码、名称、法定代表人、注册资本和经营范围。",
             [it("tyshxydm", "统一社会信用代码", "C", 18, "p"), it("qymc", "企业名称", "C", 200, "ri"),
              it("fddbr", "法定代表人", "C", 50, "i"), it("zczb", "注册资本（万元）", "Y", 18),
              it("clrq", "成立日期", "D", 8), it("djjg", "登记机关", "C", 100), it("jyfw", "经营范围", "M"),
              it("zs", "住所", "C", 200), it("djzt", "登记状态", "C", 2, "r", enum=("1 存续", "2 注销", "3 吊销"))],
             methods=("query", "verify", "table_sync"), open="unconditional", related=("法人单位基础信息",),
             mount=("table", "市场主体登记库 sczt_qyzz")),
        Spec("scjg", "个体工商户营业执照信息", "scjg",
             "本市登记的个体工商户的登记信息，含字号名称、经营者、组成形式、经营场所和经营范围。",
             [it("tyshxydm", "统一社会信用代码", "C", 18, "p"), it("zh", "字号名称", "C", 200, "i"),
              it("jyz", "经营者姓名", "C", 50, "i"), it("jyzsfzh", "经营者公民身份号码", "C", 18, "c"),
              it("zcxs", "组成形式", "C", 1, enum=("1 个人经营", "2 家庭经营")), it("jycs", "经营场所", "C", 200),
              it("jyfw", "经营范围", "M"), it("zcrq", "注册日期", "D", 8)],
             methods=("query", "verify"), open="conditional", open_condition=OPEN_COND + "经营者公民身份号码不开放。",
             legal_basis=NOT_OPEN_PERSONAL, related=("企业营业执照信息",),
             mount=("table", "市场主体登记库 sczt_gtgsh")),
        Spec("rsj", "就业登记信息", "rsj",
             "本市劳动者的就业、失业登记和就业困难人员认定信息。",
             [SID, XM, it("jyzt", "就业状态", "C", 1, "r", enum=("1 就业", "2 失业")), it("yrdw", "用人单位", "C", 200),
              it("djrq", "登记日期", "D", 8), it("jykn", "就业困难人员", "L", 1)],
             share="conditional", methods=("query", "verify"),
             share_condition="仅向办理社会救助、人才引进、创业扶持事项的部门提供。",
             legal_basis=PIPL, mount=("table", "就业业务库 jy_djxx")),
        Spec("mzj", "婚姻登记信息", "mzj",
             "本市婚姻登记机关办理的结婚、离婚、补领婚姻登记证信息。",
             [it("djzh", "登记证字号", "C", 30, "p"), it("ywlx", "业务类型", "C", 2, "r", enum=("IA 结婚", "IB 离婚")),
              it("nfxm", "男方姓名", "C", 50), it("nfsfzh", "男方公民身份号码", "C", 18, "i"),
              it("nvfxm", "女方姓名", "C", 50), it("nvfsfzh", "女方公民身份号码", "C", 18, "i"),
              it("djrq", "登记日期", "D", 8), it("djjg", "登记机关", "C", 100)],
             share="conditional", methods=("query", "verify"),
             share_condition="仅向办理户籍、住房保障、社会救助、不动产登记事项的部门提供，以核验方式为主。",
             legal_basis=PIPL, mount=("table", "民政业务库 mz_hydj")),
        Spec("mzj", "低保救助对象信息", "mzj",
             "本市城乡最低生活保障、特困供养对象的认定、保障金额和保障期限。",
             [SID, XM, it("jzlb", "救助类别", "C", 2, "r", enum=("01 城市低保", "02 农村低保", "03 特困供养")),
              it("jtrk", "家庭人口数", "I", 2), it("bzje", "月保障金额（元）", "Y", 10), it("bzqs", "保障起始日期", "D", 8),
              it("szxz", "所在乡镇（街道）", "C", 100)],
             share="conditional", methods=("query", "verify", "batch"), cycle="monthly",
             share_condition="仅向办理医疗救助、资助参保、教育资助、住房保障事项的部门提供。",
             legal_basis=PIPL, mount=("table", "社会救助库 mz_dbdx")),
        Spec("mzj", "社会组织登记信息", "mzj",
             "在本市民政部门登记的社会团体、民办非企业单位和基金会的登记信息。",
             [USCC_KEY, it("zzmc", "组织名称", "C", 200, "ri"), it("zzlx", "组织类型", "C", 2),
              it("fddbr", "法定代表人", "C", 50), it("ywfw", "业务范围", "M"), it("zsd", "住所", "C", 200),
              it("djrq", "登记日期", "D", 8)],
             open="unconditional", cycle="weekly", mount=("table", "民政业务库 mz_shzz")),
        Spec("wjw", "艾滋病病毒感染者和病人随访信息", "wjw",
             "疾病预防控制机构掌握的艾滋病病毒感染者和病人的随访管理信息。依法不予共享。",
             [SID, XM, it("sfrq", "随访日期", "D", 8), it("zljg", "治疗机构", "C", 200)],
             share="none", methods=(), cycle="irregular",
             legal_basis="《艾滋病防治条例》第三十九条；《中华人民共和国传染病防治法》",
             mount=("table", "不予共享（疾控专网）")),
        Spec("zrzy", "不动产登记信息", "zrzy",
             "本市不动产登记簿记载的不动产权利信息，含权利人、坐落、面积、用途和抵押查封状态。",
             [it("bdcdyh", "不动产单元号", "C", 28, "p"), it("bdcqzh", "不动产权证号", "C", 50, "i"),
              it("qlr", "权利人", "C", 200, "i"), it("qlrzjh", "权利人证件号码", "C", 18, "i"),
              it("zl", "坐落", "C", 200), it("mj", "面积（平方米）", "N", 12), it("yt", "用途", "C", 50),
              it("qlxz", "权利性质", "C", 20), it("dyzt", "抵押状态", "L", 1), it("cfzt", "查封状态", "L", 1)],
             share="conditional", methods=("query", "verify"), cycle="realtime",
             share_condition="仅向依法办理社会救助、住房保障、入学资格审核、税费征收事项的部门提供，说明查询目的并逐条查询。",
             legal_basis="《不动产登记暂行条例》第二十七条、第二十八条；《中华人民共和国个人信息保护法》第三十四条",
             mount=("table", "不动产登记库 bdc_djb")),
        Spec("zrzy", "建设用地规划许可信息", "zrzy",
             "本市核发的建设用地规划许可证信息，含用地单位、位置、面积和用地性质。",
             [it("xkzh", "许可证号", "C", 30, "p"), it("ydwd", "用地单位", "C", 200, "i"), it("xmmc", "项目名称", "C", 200, "i"),
              it("ydwz", "用地位置", "C", 200), it("ydmj", "用地面积（平方米）", "N", 12), it("ydxz", "用地性质", "C", 50),
              it("fzrq", "发证日期", "D", 8)],
             methods=("query", "batch"), open="unconditional", cycle="weekly", fmt=("spreadsheet", "XLSX"),
             mount=("table", "规划审批库 gh_ydxk")),
        Spec("tax", "纳税信用等级信息", "tax",
             "本市纳税人的年度纳税信用评价等级；A 级纳税人名单按规定向社会公开。",
             [it("nsrsbh", "纳税人识别号", "C", 20, "p", "统一社会信用代码"), it("nsrmc", "纳税人名称", "C", 200, "ri"),
              it("pjnd", "评价年度", "C", 4, "r"), it("xydj", "信用等级", "C", 1, "r", enum=("A", "B", "M", "C", "D"))],
             methods=("query", "verify", "batch"), open="conditional", cycle="yearly", fmt=("spreadsheet", "XLSX"),
             open_condition="仅开放纳税信用 A 级纳税人名单，其余等级不向社会开放。",
             legal_basis="《中华人民共和国税收征收管理法》第八条；《纳税信用管理办法（试行）》",
             related=("公共信用综合评价信息",), mount=("table", "税务共享库 sw_nsxy")),
        Spec("tax", "纳税申报明细信息", "tax",
             "纳税人逐期申报的收入、应纳税额等明细。属纳税人的商业秘密和个人隐私，依法不予共享。",
             [it("nsrsbh", "纳税人识别号", "C", 20, "p"), it("sbqj", "申报期间", "C", 7), it("sz", "税种", "C", 20),
              it("ynse", "应纳税额（元）", "Y", 18)],
             share="none", methods=(), cycle="monthly",
             legal_basis="《中华人民共和国税收征收管理法》第八条；《中华人民共和国税收征收管理法实施细则》第五条",
             mount=("table", "不予共享（税务金税系统）")),
        Spec("zjj", "城镇老旧小区改造项目信息", "zjj",
             "本市纳入年度计划的城镇老旧小区改造项目，含小区名称、改造内容、投资和进度。",
             [it("xmbh", "项目编号", "C", 20, "p"), it("xqmc", "小区名称", "C", 100, "ri"), it("szqx", "所在县市区", "C", 6),
              it("gznr", "改造内容", "M"), it("ztz", "总投资（万元）", "Y", 12), it("jd", "实施进度", "C", 10),
              it("jhnd", "计划年度", "C", 4)],
             methods=("query", "batch"), open="unconditional", cycle="monthly", fmt=("spreadsheet", "XLSX"),
             mount=("table", "住建业务库 zj_lxqgz"), state="submitted"),
        Spec("zjj", "公共租赁住房保障对象信息", "zjj",
             "本市公共租赁住房保障对象的资格审核、配租和退出信息。",
             [SID, XM, it("bzfs", "保障方式", "C", 1), it("pzfy", "配租房源", "C", 100)],
             share="conditional", methods=("query",), mount=("table", ""), state="draft"),
        Spec("jyj", "义务教育阶段学生学籍信息", "jyj",
             "本市义务教育阶段在校学生的学籍信息，含就读学校、年级和学籍状态。",
             [it("xjh", "全国学籍号", "C", 19, "p"), XM | {"is_indexed": True}, it("sfzh", "公民身份号码", "C", 18, "i"),
              it("jdxx", "就读学校", "C", 200), it("nj", "年级", "C", 2), it("xjzt", "学籍状态", "C", 2),
              it("jtzz", "家庭住址", "C", 200)],
             methods=("query", "verify", "batch"), cycle="monthly", legal_basis=NOT_OPEN_PERSONAL,
             mount=("table", "教育业务库 jy_xjxx"), state="returned",
             comment="学生学籍信息涉及不满十四周岁未成年人的个人信息，不宜无条件共享：请改为有条件共享，写明共享条件，"
                     "并补充《中华人民共和国个人信息保护法》第三十一条、《中华人民共和国未成年人保护法》第七十二条等依据；"
                     "“家庭住址”信息项请说明必要性。"),
        Spec("jyj", "民办学校办学许可信息", "jyj",
             "本市审批设立的民办学校和民办培训机构的办学许可证信息。",
             [it("xkzh", "办学许可证号", "C", 30, "p"), it("xxmc", "学校名称", "C", 200, "ri"),
              it("jbz", "举办者", "C", 200), it("bxlx", "办学类型", "C", 50), it("bxdz", "办学地址", "C", 200),
              it("yxqz", "有效期至", "D", 8)],
             open="unconditional", cycle="monthly", mount=("table", "教育业务库 jy_mbxx")),
        Spec("ybj", "定点医药机构信息", "ybj",
             "本市医保定点医疗机构和定点零售药店的名单、类别和结算等级。",
             [it("ddjgbm", "定点机构编码", "C", 12, "p"), it("jgmc", "机构名称", "C", 200, "ri"),
              it("jglx", "机构类型", "C", 2, "", "", ("1 定点医疗机构", "2 定点零售药店")), it("dz", "地址", "C", 200),
              it("jsdj", "结算等级", "C", 2), it("xyrq", "协议签订日期", "D", 8)],
             methods=("query", "batch"), open="unconditional", cycle="monthly", fmt=("spreadsheet", "XLSX"),
             mount=("table", "医保业务库 yb_ddjg")),
        Spec("sthj", "排污许可信息", "sthj",
             "本市排污单位的排污许可证核发信息，含行业类别、主要污染物和许可排放量。",
             [it("xkzbh", "许可证编号", "C", 30, "p"), USCC_KEY | {"is_primary": False, "is_indexed": True},
              it("dwmc", "单位名称", "C", 200, "ri"), it("hylb", "行业类别", "C", 100), it("zywrw", "主要污染物", "M"),
              it("xkpfl", "许可排放量（吨/年）", "N", 12), it("yxqz", "有效期至", "D", 8)],
             open="unconditional", cycle="weekly", mount=("table", "生态环境库 hb_pwxk")),
        Spec("gxq", "园区企业入驻信息", "gxq",
             "郴州高新区入驻企业的入驻协议、主导产业、投资额和投产状态。",
             [USCC_KEY, it("qymc", "企业名称", "C", 200, "ri"), it("zdcy", "主导产业", "C", 50),
              it("xytze", "协议投资额（万元）", "Y", 14), it("rzrq", "入驻日期", "D", 8), it("tczt", "投产状态", "C", 2)],
             methods=("query", "batch"), cycle="monthly", fmt=("spreadsheet", "XLSX"), legal_basis=NOT_OPEN_INTERNAL,
             mount=("table", "园区企业库 gxq_rzqy")),
        Spec("power", "用电信息", "power",
             "居民和企业用电户的月度用电量和缴费状态，用于社会救助家庭经济状况核对和企业生产经营分析。",
             [it("hh", "用电户号", "C", 20, "p"), it("hm", "户名", "C", 200, "i"), it("zjhm", "证件号码", "C", 18, "i"),
              it("ydlb", "用电类别", "C", 2, "", "", ("1 居民生活", "2 一般工商业", "3 大工业", "4 农业生产")),
              it("ydzl", "用电地址", "C", 200), it("ny", "年月", "C", 6, "r"), it("ydl", "月用电量（千瓦时）", "N", 12),
              it("jfzt", "缴费状态", "C", 1)],
             share="conditional", methods=("query", "batch"), cycle="monthly", fmt=("database", "CSV"),
             share_condition="仅向办理社会救助家庭经济状况核对和企业生产经营监测事项的部门提供，居民用电只提供近12个月用电量。",
             legal_basis="《中华人民共和国个人信息保护法》第十三条", mount=("table", "营销系统回流 dl_ydxx")),
        Spec("spj", "政务服务事项办件信息", "spj",
             "全市政务服务事项的受理、办结和评价信息，用于“一件事一次办”和跨部门协同。",
             [it("bjbh", "办件编号", "C", 40, "p"), it("sxbm", "事项编码", "C", 40, "i"), it("sxmc", "事项名称", "C", 200, "i"),
              it("sqr", "申请人", "C", 200), it("sqrzjh", "申请人证件号码", "C", 18, "i"), it("slsj", "受理时间", "T", 14),
              it("bjsj", "办结时间", "T", 14), it("bjjg", "办结结果", "C", 2)],
             methods=("query", "table_sync"), cycle="realtime", legal_basis=NOT_OPEN_PERSONAL,
             mount=("table", "一体化政务服务平台 zw_bjxx")),
        Spec("guiyang", "桂阳县政务服务事项办件信息", "guiyang",
             "桂阳县政务服务事项的受理和办结信息，按日汇聚至市共享平台。",
             [it("bjbh", "办件编号", "C", 40, "p"), it("sxmc", "事项名称", "C", 200, "i"), it("sqr", "申请人", "C", 200),
              it("slsj", "受理时间", "T", 14), it("bjsj", "办结时间", "T", 14)],
             methods=("query", "batch"), legal_basis=NOT_OPEN_PERSONAL, related=("政务服务事项办件信息",),
             mount=("table", "桂阳县政务服务平台 gy_bjxx")),
    ]  # fmt: skip


# The published entry that gets a second version, and what changes.
SECOND_VERSION = ("个体工商户营业执照信息", "scjg")
SECOND_VERSION_REASON = (
    "依据《市场主体登记管理条例》调整信息项：按第八条增加经营者住所；增加登记状态，支持注销、吊销核验"
)


def _second_version_payload(payload: dict) -> dict:
    items = [dict(i) for i in payload["items"]]
    at = next(n for n, i in enumerate(items) if i["code"] == "jyzsfzh") + 1
    items.insert(at, it("jyzzs", "经营者住所", "C", 200, "c", "《市场主体登记管理条例》第八条"))
    items.append(it("djzt", "登记状态", "C", 2, "r", enum=("1 存续", "2 注销", "3 吊销")))
    return {**payload, "items": items}


# --- demand list ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    user: str
    service_item: str
    data_name: str
    items: tuple[str, ...]
    source: str | None  # department key
    resource: str | None  # the resource that answers it; None = a deliberate gap
    code: str = ""
    note: str = ""


DIBAO = "最低生活保障审核确认"
NEEDS: tuple[Need, ...] = (
    Need("consumer", DIBAO, "社会保险参保信息", ("公民身份号码", "参保状态", "缴费基数"), "rsj", "社会保险参保信息",
         "431000-MZ-001"),
    Need("consumer", DIBAO, "不动产登记信息", ("权利人证件号码", "坐落", "面积（平方米）", "用途"), "zrzy", "不动产登记信息",
         "431000-MZ-001"),
    Need("consumer", DIBAO, "纳税信息", ("纳税人识别号", "应纳税额（元）"), "tax", None, "431000-MZ-001",
         "家庭经济状况核对需要申请人及共同生活家庭成员的纳税情况；税务部门的申报明细列入不予共享，待协调。"),
    Need("consumer", DIBAO, "机动车登记信息", ("所有人身份证明号码", "车辆类型"), "gaj", "机动车登记信息",
         "431000-MZ-001"),
    Need("consumer", DIBAO, "个体工商户登记信息", ("经营者公民身份号码", "字号名称", "登记状态"), "scjg",
         "个体工商户营业执照信息", "431000-MZ-001"),
    Need("consumer", DIBAO, "用电信息", ("证件号码", "月用电量（千瓦时）"), "power", "用电信息", "431000-MZ-001"),
    Need("rsj", "失业保险金申领", "企业营业执照信息", ("统一社会信用代码", "企业名称", "登记状态"), "scjg",
         "企业营业执照信息", "431000-RS-017"),
    Need("rsj", "失业保险金申领", "人口基础信息", ("公民身份号码", "姓名"), "gaj", "人口基础信息", "431000-RS-017"),
    Need("jyj", "义务教育阶段新生入学登记", "居民户籍信息", ("公民身份号码", "户籍地址", "迁入日期"), "gaj", "居民户籍信息"),
    Need("jyj", "义务教育阶段新生入学登记", "不动产登记信息", ("权利人证件号码", "坐落"), "zrzy", "不动产登记信息"),
    Need("jyj", "义务教育阶段新生入学登记", "出生医学证明信息", ("出生医学证明编号", "母亲公民身份号码"), "wjw",
         "出生医学证明信息"),
    Need("jyj", "教师资格认定", "无犯罪记录证明", ("公民身份号码",), "gaj", None, "",
         "《教师资格条例》要求申请人无犯罪记录；犯罪记录信息列入不予共享，需按查询规定另行办理。"),
    Need("zjj", "公共租赁住房保障资格审核", "婚姻登记信息", ("男方公民身份号码", "女方公民身份号码", "业务类型"), "mzj",
         "婚姻登记信息"),
    Need("zjj", "公共租赁住房保障资格审核", "住房公积金缴存信息", ("公民身份号码", "缴存状态", "缴存基数"), None, None, "",
         "住房公积金管理中心尚未接入共享平台。"),
    Need("ybj", "城乡居民医疗保险参保登记（资助参保）", "低保救助对象信息", ("公民身份号码", "救助类别"), "mzj",
         "低保救助对象信息"),
    Need("wjw", "医疗机构执业登记", "企业营业执照信息", ("统一社会信用代码", "企业名称", "住所"), "scjg", "企业营业执照信息"),
    Need("spj", "企业开办“一件事”", "企业营业执照信息", ("统一社会信用代码", "企业名称", "法定代表人"), "scjg",
         "企业营业执照信息"),
    Need("gxq", "园区企业入驻审核", "纳税信用等级信息", ("纳税人识别号", "信用等级"), "tax", "纳税信用等级信息"),
)  # fmt: skip

NEGATIVE_PROPOSAL = (
    "医疗保险参保信息",
    "ybj",
    "个人账户余额",
    "《中华人民共和国个人信息保护法》第二十八条（个人账户余额属金融账户类敏感个人信息）、第三十四条",
)


# --- loading -------------------------------------------------------------------------------------------


def _load_regions() -> int:
    rows = current_regions()
    have = set(Region.objects.values_list("code", flat=True))
    codes = {r.code for r in rows} | have
    new = [
        Region(
            code=r.code,
            name=r.name,
            level=r.level,
            parent_id=r.parent_code if r.parent_code in codes else None,
        )
        for r in rows
        if r.code not in have
    ]
    Region.objects.bulk_create(new, batch_size=500, ignore_conflicts=True)
    return len(new)


def _load_departments() -> dict[str, Department]:
    depts = {}
    for seed, d in enumerate(DEPARTMENTS, start=1):
        depts[d.key], _ = Department.objects.get_or_create(
            name=d.name,
            defaults={
                "short_name": d.short_name, "uscc": demo_uscc(d, seed), "region_id": d.region, "level": d.level,
                "kind": d.kind, "platform": PLATFORM,
            },
        )  # fmt: skip
    return depts


def _load_people(depts: dict[str, Department]) -> dict[str, User]:
    from faker import Faker

    fake = Faker("zh_CN")
    fake.seed_instance(FAKER_SEED)
    people = _people()
    existing = {u.username: u for u in User.objects.filter(username__in=[p.username for p in people])}
    encoded = None
    for p in people:
        # Drawn for every person, existing or not, so each username always gets the same name.
        full_name, phone = fake.name(), fake.phone_number()
        user = existing.get(p.username)
        if user is None:
            encoded = encoded or make_password(DEMO_PASSWORD)  # hash once: Argon2 is slow on purpose
            user = User.objects.create(
                username=p.username,
                password=encoded,
                full_name=full_name,
                phone=phone,
                department=depts[p.dept],
                is_staff=Role.OPERATOR
                in p.roles,  # the platform operator manages departments and people in /admin/
            )
            UserRole.objects.bulk_create([UserRole(user=user, role=r) for r in p.roles])
        if p.is_head and depts[p.dept].head_id is None:
            depts[p.dept].head = user
            depts[p.dept].save(update_fields=["head"])
    return {u.username: u for u in User.objects.filter(username__in=[p.username for p in people])}


def _load_classifications(depts: dict[str, Department]) -> None:
    for kind, rows in ((CatalogKind.BASE, BASE_CLASSES), (CatalogKind.THEME, THEME_CLASSES)):
        for code, name, lead in rows:
            Classification.objects.get_or_create(
                code=code, defaults={"name": name, "kind": kind, "lead_department": depts[lead]}
            )
    for i, d in enumerate(DEPARTMENTS):
        Classification.objects.get_or_create(
            code=department_class_code(i),
            defaults={"name": d.name, "kind": CatalogKind.DEPARTMENT, "lead_department": depts[d.key]},
        )


def _class_code(spec: Spec) -> str:
    if spec.cls.isdigit():
        return spec.cls
    return department_class_code(next(i for i, d in enumerate(DEPARTMENTS) if d.key == spec.cls))


def _maintainer_key(spec: Spec) -> str:
    """Base and theme entries are compiled by their lead department (CZ 10), the rest by the provider."""
    leads = {code: lead for code, _, lead in BASE_CLASSES + THEME_CLASSES}
    return leads.get(spec.cls, spec.provider)


def _payload(spec: Spec, depts: dict[str, Department], codes: dict[str, str]) -> dict:
    return {
        "classification": _class_code(spec),
        "name": spec.name,
        "abstract": spec.abstract,
        "provider": depts[spec.provider].pk,
        "format_category": spec.fmt[0],
        "format_type": spec.fmt[1],
        "share_type": spec.share,
        "share_condition": spec.share_condition,
        "share_methods": list(spec.methods),
        "usage_requirements": spec.usage,
        "open_type": spec.open,
        "open_condition": spec.open_condition,
        "legal_basis": spec.legal_basis,
        "update_cycle": spec.cycle,
        "mount_kind": spec.mount[0],
        "mount_ref": spec.mount[1],
        "related_codes": [codes[n] for n in spec.related if n in codes],
        "is_secret": False,
        "items": [dict(i) for i in spec.items],
        **spec.extra,
    }


def _officer(users: dict[str, User], dept_key: str) -> User:
    return users[next(d.officer for d in DEPARTMENTS if d.key == dept_key)]


def _load_resources(depts, users) -> dict[tuple[str, str], Resource]:
    authority = users["authority"]
    found = {
        (r.name, r.provider_id): r
        for r in Resource.objects.filter(provider__in=depts.values()).select_related("provider")
    }
    resources: dict[tuple[str, str], Resource] = {}
    codes: dict[str, str] = {}
    for spec in _specs():
        resource = found.get((spec.name, depts[spec.provider].pk))
        if resource is None:
            officer = _officer(users, _maintainer_key(spec))
            rev = services.create_resource(officer, _payload(spec, depts, codes), reason="新编目录")
            if spec.state != "draft":
                services.submit_revision(officer, rev)
            if spec.state == "returned":
                services.return_revision(authority, rev, spec.comment)
            elif spec.state == "published":
                services.publish_revision(
                    authority, rev, comment="经审核，目录要素齐全，共享属性和依据符合规定，同意发布。"
                )
            resource = Resource.objects.get(pk=rev.resource_id)
        resources[(spec.name, spec.provider)] = resource
        codes[spec.name] = resource.code
    return resources


def _load_demands(depts, users, resources) -> None:
    for need in NEEDS:
        user = users[need.user]
        demand = Demand.objects.filter(
            department=user.department_id, service_item=need.service_item, data_name=need.data_name
        ).first()
        if demand is None:
            demand = services.create_demand(
                user, service_item=need.service_item, service_item_code=need.code, data_name=need.data_name,
                item_names=list(need.items), source_department=depts[need.source] if need.source else None,
                note=need.note,
            )  # fmt: skip
        if need.resource and need.source:
            resource = resources[(need.resource, need.source)]
            if resource.is_live and not demand.supplies.filter(resource=resource).exists():
                services.link_supply(_officer(users, need.source), demand, resource)


def _second_version(users, resources) -> None:
    resource = resources[SECOND_VERSION]
    resource.refresh_from_db()
    if (
        resource.version != 1
        or resource.status != ResourceStatus.PUBLISHED
        or services.open_revision(resource)
    ):
        return
    officer = _officer(users, SECOND_VERSION[1])
    rev = services.start_revision(officer, resource, SECOND_VERSION_REASON)
    rev = services.update_revision(officer, rev, _second_version_payload(rev.payload))
    services.submit_revision(officer, rev)
    services.publish_revision(users["authority"], rev, comment="变更依据充分，未缩小共享范围，同意发布。")


def _negative_proposal(users, resources) -> None:
    name, provider, item_name, basis = NEGATIVE_PROPOSAL
    resource = resources[(name, provider)]
    if (
        not resource.is_live
        or NegativeListEntry.objects.filter(resource=resource, item_name=item_name).exists()
    ):
        return
    item = resource.items.get(name=item_name)
    services.propose_negative(_officer(users, provider), resource, basis, item)


def _accounts(users: dict[str, User]) -> list[dict]:
    order = [p for p in _people() if not (p.is_head and p.username != "head")]
    rows = []
    for p in order:
        user = users[p.username]
        labels = [Role(r).label for r in p.roles]
        rows.append(
            {"username": user.username, "role": "、".join(labels), "department": user.department.name}
        )
    if User.objects.filter(username=PUBLIC_USERNAME).exists():
        rows.append(
            {"username": PUBLIC_USERNAME, "role": "公众用户（已实名核验）", "department": "开放平台 /open/"}
        )
    return rows


@transaction.atomic
def _deadlines(users: dict[str, User], resources: dict) -> None:
    """Two catalog-update duties (R-CAT-13) so 我的待办 and 督办 have something to show: one running for
    the market regulator, one already overdue for the police. Dates are relative to today, so the demo
    looks the same whenever it is loaded; each is recorded once."""
    from django.utils import timezone

    from govshare.calendar.policy import work_calendar
    from govshare.supervision.models import CatalogTrigger
    from govshare.supervision.services import check_due, record_catalog_trigger

    today = timezone.localdate()
    cal = work_calendar()
    for username, back, text in (
        ("provider", 3, "《市场主体登记管理条例实施细则》修订，登记事项调整"),
        ("police", 30, "户籍管理职能调整，部分业务划转至政务服务中心"),
    ):
        user = users[username]
        if CatalogTrigger.objects.filter(department=user.department, description=text).exists():
            continue
        occurred = cal.add_working_days(today, -back).due
        record_catalog_trigger(
            user,
            event="law_revision" if username == "provider" else "function_change",
            description=text,
            occurred_on=occurred,
        )
    check_due(today)


def _settle_inbox() -> None:
    """Mark as read what the loading itself announced and is already dealt with (the reviews of entries
    that are now published), so each inbox opens on what still waits: the pending review, the returned
    entry, the deadlines."""
    from govshare.catalog.models import ResourceRevision, RevisionStatus
    from govshare.notifications.models import Notification, NotificationRead

    still_waiting = {
        f"/catalog/revisions/{pk}/"
        for pk in ResourceRevision.objects.filter(
            status__in=[RevisionStatus.SUBMITTED, RevisionStatus.RETURNED]
        ).values_list("pk", flat=True)
    }
    settled = Notification.objects.filter(kind__startswith="catalog.", department__isnull=False).exclude(
        link__in=still_waiting
    )
    reads = [
        NotificationRead(notification=n, user=u)
        for n in settled.select_related("department")
        for u in User.objects.filter(department_id=n.department_id)
    ]
    NotificationRead.objects.bulk_create(reads, ignore_conflicts=True)


def load_demo() -> dict:
    """Load (or top up) the demo city; safe to run any number of times."""
    _load_regions()
    depts = _load_departments()
    users = _load_people(depts)
    _load_classifications(depts)
    resources = _load_resources(depts, users)
    _load_demands(depts, users, resources)
    _second_version(users, resources)
    _negative_proposal(users, resources)
    _deadlines(users, resources)
    load_sharing(users)
    load_open(users)
    _settle_inbox()
    n_depts = Department.objects.count()
    n_published = Resource.objects.filter(
        status__in=[ResourceStatus.PUBLISHED, ResourceStatus.RETIRING]
    ).count()
    return {
        "message": f"演示城市已就绪：郴州市，{n_depts} 个部门、{n_published} 条已发布目录",
        "accounts": _accounts(users),
    }
