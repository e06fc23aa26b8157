"""Shared fixtures: a small city with an authority, a provider, a consumer and catalog classifications."""

import os
import shutil

import pytest

from govshare.orgs.identifiers import uscc_check_char


def make_uscc(seed: int) -> str:
    body = f"11431000{seed:09d}"
    return body + uscc_check_char(body)


@pytest.fixture(autouse=True, scope="session")
def _tasks_run_immediately():
    """Background tasks (exports) run inside the call that queues them, so tests need no worker."""
    from django.test import override_settings

    with override_settings(
        TASKS={"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    ):
        yield


@pytest.fixture(autouse=True)
def _fresh_gate_schemas():
    """The delivery gate caches each resource's items and sealing per (id, catalog version). SQLite hands
    the same ids out again after every test's rollback, which a running platform never does."""
    from govshare.sharing import gate

    gate._schemas.clear()
    yield
    gate._schemas.clear()


@pytest.fixture
def city(db):
    from govshare.catalog.models import CatalogKind, Classification
    from govshare.orgs.models import Department, DepartmentKind, Region, Role, User, UserRole

    province = Region.objects.create(code="430000", name="湖南省", level="province")
    region = Region.objects.create(code="431000", name="郴州市", level="city", parent=province)

    def dept(name, seed, kind=DepartmentKind.GOVERNMENT):
        return Department.objects.create(
            name=name,
            short_name=name.replace("郴州市", ""),
            uscc=make_uscc(seed),
            region=region,
            level="city",
            kind=kind,
            platform="郴州市政务数据共享交换平台",
        )

    def person(username, department, *roles, full_name=""):
        user = User.objects.create_user(
            username=username,
            password="govshare-test-pw",
            department=department,
            full_name=full_name or username,
        )
        for role in roles:
            UserRole.objects.create(user=user, role=role)
        return User.objects.get(pk=user.pk)

    authority = dept("郴州市行政审批服务局", 1, DepartmentKind.AUTHORITY)
    police = dept("郴州市公安局", 2)
    market = dept("郴州市市场监督管理局", 3)
    civil = dept("郴州市民政局", 4)
    idle = dept("郴州市档案馆", 5)
    base = Classification.objects.create(
        code="101", name="人口基础信息", kind=CatalogKind.BASE, lead_department=police
    )
    theme = Classification.objects.create(code="201", name="社会信用", kind=CatalogKind.THEME)
    depcls = Classification.objects.create(code="301", name="部门信息资源", kind=CatalogKind.DEPARTMENT)

    class City:
        pass

    c = City()
    c.region, c.authority, c.police, c.market, c.civil, c.idle = (
        region,
        authority,
        police,
        market,
        civil,
        idle,
    )
    c.base, c.theme, c.depcls = base, theme, depcls
    c.reviewer = person("reviewer", authority, Role.AUTHORITY, full_name="审批局审核员")
    c.police_officer = person("police", police, Role.PROVIDER, Role.CONSUMER, full_name="公安数据专员")
    c.market_officer = person("market", market, Role.PROVIDER, Role.CONSUMER, full_name="市场监管数据专员")
    c.civil_officer = person("civil", civil, Role.CONSUMER, full_name="民政数据专员")
    c.person = person
    return c


@pytest.fixture
def operator(city):
    """A member of the platform's operator (大数据中心), who runs it but owns none of its data."""
    from govshare.orgs.models import Department, DepartmentKind, Role

    dept = Department.objects.create(
        name="郴州市大数据中心",
        short_name="大数据中心",
        uscc=make_uscc(9),
        region=city.region,
        level="city",
        kind=DepartmentKind.OPERATOR,
        platform="郴州市政务数据共享交换平台",
    )
    return city.person("ops", dept, Role.OPERATOR, full_name="平台运维专员")


@pytest.fixture
def media(settings, tmp_path):
    """Uploaded and generated files (evidence, exports, open data versions) go to a throwaway directory,
    never into the checkout's var/."""
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": root}},
    }
    return root


def resource_payload(city, **overrides) -> dict:
    payload = {
        "classification": city.depcls.code,
        "name": "企业营业执照信息",
        "abstract": "本市登记注册企业的营业执照基本信息。",
        "provider": city.market.pk,
        "format_category": "database",
        "format_type": "JSON",
        "share_type": "unconditional",
        "share_methods": ["query", "verify"],
        "usage_requirements": "仅用于本部门履职，不得向第三方提供。",
        "open_type": "unconditional",
        "update_cycle": "daily",
        "mount_kind": "table",
        "items": [
            {
                "code": "tyshxydm",
                "name": "统一社会信用代码",
                "data_type": "C",
                "length": 18,
                "is_primary": True,
            },
            {"code": "qymc", "name": "企业名称", "data_type": "C", "length": 200, "is_required": True},
            {"code": "fddbr", "name": "法定代表人", "data_type": "C", "length": 50},
            {"code": "clrq", "name": "成立日期", "data_type": "D"},
        ],
    }
    payload.update(overrides)
    return payload


@pytest.fixture
def payload(city):
    return lambda **kw: resource_payload(city, **kw)


@pytest.fixture
def published(city, payload):
    """Register, submit and publish an entry; returns a function so a test can make several."""
    from govshare.catalog import services

    def make(officer=None, **overrides):
        officer = officer or city.market_officer
        rev = services.create_resource(officer, payload(**overrides))
        services.submit_revision(officer, rev)
        services.publish_revision(city.reviewer, rev)
        rev.resource.refresh_from_db()
        return rev.resource

    return make


PEOPLE_ITEMS = [
    {"code": "sfzh", "name": "公民身份号码", "data_type": "C", "length": 18, "is_primary": True},
    {"code": "xm", "name": "姓名", "data_type": "C", "length": 50, "is_required": True},
    {"code": "xb", "name": "性别", "data_type": "C", "length": 2, "enum_values": ["男", "女"]},
    {"code": "csrq", "name": "出生日期", "data_type": "D"},
    {"code": "sjhm", "name": "手机号码", "data_type": "C", "length": 11, "is_indexed": True},
]


@pytest.fixture
def people(city, published):
    """A published 户籍人口 table resource of the police department, ready for loading."""
    return published(
        officer=city.police_officer, name="户籍人口基本信息", provider=city.police.pk, items=PEOPLE_ITEMS
    )


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium under Playwright; skips (or fails with GOVSHARE_REQUIRE_BROWSER=1) when absent."""
    path = chromium_path()
    if path is None:
        message = "Chromium not found (apt-get install chromium); browser tests need it"
        if os.environ.get("GOVSHARE_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running on this thread while the browser lives, and
    # Django refuses database calls it sees made under a running loop; ours are in fact synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=path,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


BROWSER_TIMEOUT = 15_000  # ms; generous for a loaded CI machine, never a sleep


@pytest.fixture
def person(browser, live_server):
    """Open a fresh context for a user and log in; yields a factory, closes every context at the end."""
    from playwright.sync_api import expect

    expect.set_options(timeout=BROWSER_TIMEOUT)
    contexts = []

    def login(username):
        context = browser.new_context(
            base_url=live_server.url, locale="zh-CN", viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(BROWSER_TIMEOUT)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login/")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill("govshare-test-pw")
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("的工作台")
        return page

    yield login
    for context in contexts:
        context.close()
