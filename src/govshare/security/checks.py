"""Our deployment checks, run by `govshare check --deploy` after Django's own (docs/security.md).

Each check is a plain function of the settings (tests call them under override_settings). Errors
(`govshare.E0xx`) are what must not go live; warnings (`govshare.W0xx`) are what the embedded demo
does on purpose and a real deployment should change. Messages are Chinese, then English.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.utils import timezone

TAG = "govshare"
MAIL_TO_NOWHERE = (
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
)


def _env_or_setting(name: str) -> str:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name, "")
    return str(value or "").strip()


@register(TAG, deploy=True)
def check_secret_key(app_configs=None, **kwargs):
    env = os.environ.get("GOVSHARE_SECRET_KEY", "")
    if env and settings.SECRET_KEY == env:
        return []
    return [
        Warning(
            "SECRET_KEY 不是来自环境变量 GOVSHARE_SECRET_KEY（演示环境自动生成并保存在 var/secret_key）。"
            " / SECRET_KEY does not come from GOVSHARE_SECRET_KEY (auto-generated file, fine for the demo).",
            hint="用密钥管理系统下发 GOVSHARE_SECRET_KEY（至少 50 个随机字符），不要与数据库放在同一备份中。"
            " / Provision GOVSHARE_SECRET_KEY (50+ random characters) from your secret store.",
            id="govshare.W001",
        )
    ]


@register(TAG, deploy=True)
def check_debug(app_configs=None, **kwargs):
    if not settings.DEBUG:
        return []
    return [
        Error(
            "调试模式已开启（GOVSHARE_DEBUG=1），出错页面会泄露配置和数据。 / DEBUG is on: error pages leak "
            "settings and data.",
            hint="生产环境删除 GOVSHARE_DEBUG 或设为 0。 / Unset GOVSHARE_DEBUG in production.",
            id="govshare.E001",
        )
    ]


@register(TAG, deploy=True)
def check_allowed_hosts(app_configs=None, **kwargs):
    if "*" not in settings.ALLOWED_HOSTS:
        return []
    return [
        Error(
            "ALLOWED_HOSTS 含通配符 *，任意 Host 头都会被接受（可被用于密码重置投毒、缓存投毒）。"
            " / ALLOWED_HOSTS contains the wildcard '*': any Host header is accepted.",
            hint="在 GOVSHARE_ALLOWED_HOSTS 中逐个列出平台的域名。 / List the platform's host names in "
            "GOVSHARE_ALLOWED_HOSTS.",
            id="govshare.E002",
        )
    ]


@register(TAG, deploy=True)
def check_database(app_configs=None, **kwargs):
    sqlite = [alias for alias, db in settings.DATABASES.items() if "sqlite" in db.get("ENGINE", "")]
    if not sqlite:
        return []
    return [
        Warning(
            f"数据库使用 SQLite（{', '.join(sqlite)}）：适合演示和单机试用，生产环境应使用 PostgreSQL。"
            " / SQLite is in use: fine for the demo, use PostgreSQL in production.",
            hint="设置 DATABASE_URL=postgres://用户@主机:5432/库名。 / Set DATABASE_URL to a PostgreSQL URL.",
            id="govshare.W002",
        )
    ]


@register(TAG, deploy=True)
def check_tls(app_configs=None, **kwargs):
    if settings.SESSION_COOKIE_SECURE and getattr(settings, "SECURE_HSTS_SECONDS", 0):
        return []
    return [
        Warning(
            "未设置 GOVSHARE_TLS=1：没有 HSTS，会话和 CSRF Cookie 也会经明文 HTTP 发送。"
            " / GOVSHARE_TLS is not set: no HSTS, session and CSRF cookies are not marked Secure.",
            hint="在 HTTPS 反向代理之后运行并设置 GOVSHARE_TLS=1（代理需传 X-Forwarded-Proto）。"
            " / Serve behind HTTPS and set GOVSHARE_TLS=1 (the proxy must send X-Forwarded-Proto).",
            id="govshare.W003",
        )
    ]


def _sqlite_dirs() -> list[Path]:
    dirs = []
    for db in settings.DATABASES.values():
        name = str(db.get("NAME") or "")
        if (
            "sqlite" in db.get("ENGINE", "")
            and name
            and not name.startswith(":memory:")
            and "mode=memory" not in name
        ):
            dirs.append(Path(name).resolve().parent)
    return dirs


@register(TAG, deploy=True)
def check_audit_keys(app_configs=None, **kwargs):
    key_dir = Path(settings.GOVSHARE_AUDIT_KEY_DIR).resolve()
    found = []
    if key_dir.is_dir():
        problems = []
        mode = stat.S_IMODE(key_dir.stat().st_mode)
        if mode & 0o022:
            problems.append(f"目录 {key_dir} 的权限为 {mode:o}，其他账号可写入（可植入新的签名密钥）")
        for pem in sorted(key_dir.glob("*.pem")):
            pmode = stat.S_IMODE(pem.stat().st_mode)
            if pmode & 0o077:
                problems.append(f"私钥 {pem.name} 的权限为 {pmode:o}，其他账号可读取")
        if problems:
            found.append(
                Error(
                    "审计日志签名私钥的权限过宽："
                    + "；".join(problems)
                    + "。 / The audit signing keys can be "
                    "read, or new keys planted, by other accounts.",
                    hint=f"chmod 700 {key_dir} && chmod 600 {key_dir}/*.pem（仅服务账号可访问）。"
                    " / Make them accessible to the service account only.",
                    id="govshare.E003",
                )
            )
        elif mode & 0o007:
            found.append(
                Warning(
                    f"审计签名密钥目录 {key_dir} 的权限为 {mode:o}，其他账号可列出其中的文件（私钥文件本身为 600）。"
                    " / Other accounts can list the audit signing key directory (the key files are 600).",
                    hint=f"chmod 700 {key_dir}。 / chmod 700 the directory.",
                    id="govshare.W009",
                )
            )
    for db_dir in _sqlite_dirs():
        if key_dir == db_dir or key_dir.is_relative_to(db_dir):
            found.append(
                Warning(
                    f"审计签名密钥目录 {key_dir} 位于数据库目录 {db_dir} 之内：拿到数据库备份的人也拿到了签名密钥，"
                    "可以重签被篡改的日志。 / The audit signing keys live inside the database directory, "
                    "so a database backup carries the keys that vouch for it.",
                    hint="把 GOVSHARE_AUDIT_KEY_DIR 设到数据库目录和数据库备份之外。"
                    " / Point GOVSHARE_AUDIT_KEY_DIR outside the database directory and its backups.",
                    id="govshare.W004",
                )
            )
            break
    return found


@register(TAG, deploy=True)
def check_field_key(app_configs=None, **kwargs):
    from govshare.security import fieldcrypt

    spec = _env_or_setting("GOVSHARE_FIELD_KEY")
    found = []
    alg = _env_or_setting("GOVSHARE_FIELD_CIPHER") or "aes-256-gcm"
    if alg not in fieldcrypt.ALGORITHMS:
        found.append(
            Error(
                f"GOVSHARE_FIELD_CIPHER={alg} 不是支持的字段加密算法（{'、'.join(fieldcrypt.ALGORITHMS)}）。",
                id="govshare.E006",
            )
        )
    if spec:
        try:
            fieldcrypt.parse_keys(spec)
        except fieldcrypt.FieldKeyError as exc:
            found.append(Error(f"GOVSHARE_FIELD_KEY 无法使用：{exc}（R-SEC-04）", id="govshare.E007"))
        return found
    found.append(
        Warning(
            "未配置字段加密密钥 GOVSHARE_FIELD_KEY：敏感信息项改用审计密钥目录中自动生成的 field.key 加密，"
            "该文件随服务器备份流转（R-SEC-04）。 / GOVSHARE_FIELD_KEY is not set: sensitive items are sealed "
            "under an instance-made field.key in the audit key directory.",
            hint="从密钥管理系统下发 GOVSHARE_FIELD_KEY（kid:base64，至少32字节），并与数据库备份分开保管。"
            " / Provision GOVSHARE_FIELD_KEY and keep it apart from database backups.",
            id="govshare.W005",
        )
    )
    return found


@register(TAG, deploy=True)
def check_email(app_configs=None, **kwargs):
    if settings.EMAIL_BACKEND not in MAIL_TO_NOWHERE:
        return []
    return [
        Warning(
            f"未配置邮件服务器：邮件不会发出（当前 {settings.EMAIL_BACKEND.rsplit('.', 2)[-2]}，"
            "演示环境写入 var/mail/）。到期提醒和督办通知只能在站内看到。 / No mail server is configured: "
            "reminders and notices are not sent by e-mail.",
            hint="设置 GOVSHARE_EMAIL_HOST（及 _PORT、_USER、_PASSWORD、_USE_TLS、_FROM）。"
            " / Set GOVSHARE_EMAIL_HOST and friends.",
            id="govshare.W006",
        )
    ]


def _calendar():
    from django.db import DatabaseError

    from govshare.calendar.policy import work_calendar
    from govshare.calendar.workdays import default_calendar

    try:
        return work_calendar()
    except DatabaseError:  # not migrated yet: judge by the packaged official data alone
        return default_calendar()


def today():
    return timezone.localdate()


@register(TAG, deploy=True)
def check_holidays(app_configs=None, **kwargs):
    year = today().year + 1
    if _calendar().year_source(year) != "computed":
        return []
    return [
        Warning(
            f"尚未导入 {year} 年国务院节假日安排：跨入 {year} 年的法定时限按《全国年节及纪念日放假办法》推算，"
            "标记为临时。 / The official holiday table for next year is missing: deadlines reaching into "
            f"{year} are computed from the statutory rules and marked provisional.",
            hint=f"国务院公布通知后运行 govshare holidays import holidays-{year}.csv（或在“设置”页面导入）。"
            f" / Run `govshare holidays import holidays-{year}.csv` once the State Council publishes it.",
            id="govshare.W007",
        )
    ]


@register(TAG, deploy=True)
def check_require_totp(app_configs=None, **kwargs):
    from govshare.security.services import require_totp_setting

    if require_totp_setting():
        return []
    return [
        Warning(
            "未设置 GOVSHARE_REQUIRE_TOTP=1：数据主管部门和平台运维账号可以只凭密码登录。"
            " / GOVSHARE_REQUIRE_TOTP is not set: authority and operator accounts may sign in with a "
            "password alone.",
            hint="设置 GOVSHARE_REQUIRE_TOTP=1，这些账号下次登录时须先绑定动态口令。"
            " / Set GOVSHARE_REQUIRE_TOTP=1; those accounts must enroll at their next sign-in.",
            id="govshare.W008",
        )
    ]


LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@register(TAG, deploy=True)
def check_shared_cache(app_configs=None, **kwargs):
    """The 核验 throttle counts in the cache; several server processes need one they share (R-SHARE-10)."""
    workers = os.environ.get("GOVSHARE_WORKERS", "1").strip()
    if (
        not (workers.isdecimal() and int(workers) > 1)
        or settings.CACHES["default"]["BACKEND"] not in LOCAL_CACHES
    ):
        return []
    return [
        Warning(
            f"GOVSHARE_WORKERS={workers} 但缓存在进程内存中：核验限流按进程分别计数，实际上限为设定值的 {workers} 倍。"
            f" / {workers} server processes with a per-process cache: each counts verification calls alone.",
            hint="设置 GOVSHARE_CACHE_URL=redis://主机:6379/0，各进程共用计数。"
            " / Set GOVSHARE_CACHE_URL to a Redis server all processes share.",
            id="govshare.W010",
        )
    ]
