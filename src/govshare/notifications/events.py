"""The event catalogue: every kind of notice the platform sends, with the label a person reads.

A kind not listed here still reaches the in-app inbox (and webhooks subscribed to all events); it just
cannot be chosen on the preferences page until it is added.
"""

EVENTS: dict[str, str] = {
    "catalog.submitted": "目录提交待审核",
    "catalog.returned": "目录被退回",
    "catalog.change_announced": "目录变更预告",
    "catalog.changed": "目录已更新",
    "catalog.retire_announced": "目录下线预告",
    "catalog.retired": "目录已下线",
    "obligation.opened": "新的办理时限",
    "obligation.reminder": "时限临近提醒",
    "obligation.overdue": "办理超期",
    "obligation.extended": "时限已延长",
    "elements.second_source": "一数一源：多源登记",
    "elements.source_override": "多源登记已确认",
    "elements.conflict": "多元校核数据不一致",
    "elements.case_escalated": "多元校核提请协调",
    "elements.case_resolved": "多元校核协调办结",
    "sharing.application_submitted": "共享申请待办理",
    "sharing.application_forwarded": "共享申请已初审转办",
    "sharing.application_approved": "共享申请已同意",
    "sharing.application_refused": "共享申请未同意",
    "sharing.application_withdrawn": "共享申请已撤回",
    "sharing.registered": "无条件共享登记使用",
    "sharing.grant_suspended": "共享授权已暂停",
    "sharing.grant_resumed": "共享授权已恢复",
    "sharing.grant_terminated": "共享授权已终止",
    "sharing.grant_expired": "共享授权已到期",
    "sharing.grant_filing_required": "协商供给待备案",
    "sharing.grant_filed": "协商供给已备案",
    "sharing.case_opened": "共享协商发起",
    "sharing.case_message": "共享协商新意见",
    "sharing.case_escalated": "共享协商提请协调",
    "sharing.case_agreed": "共享协商达成供给",
    "sharing.case_closed": "共享协商办结",
    "corrections.raised": "数据疑义待核校",
    "corrections.reported": "数据疑义待受理",
    "corrections.accepted": "数据疑义待分析分发",
    "corrections.decided": "数据疑义核校结果",
    "corrections.closed": "数据疑义已办结",
    "corrections.extension_requested": "疑义核校延期待审批",
    "corrections.extended": "疑义核校期限已延长",
    "corrections.extension_refused": "疑义核校延期未获批准",
    "corrections.withdrawn": "数据疑义已撤回",
    # open data: conditional open applications (R-OPEN-08/09/15)
    "open.application_submitted": "有条件开放申请待答复",
    "open.application_approved": "有条件开放申请已同意",
    "open.application_refused": "有条件开放申请未同意",
    "open.application_withdrawn": "有条件开放申请已撤回",
    "open.agreement_accepted": "数据利用协议已签署",
    "open.application_revoked": "开放数据使用授权已撤销",
    "open.extension_requested": "开放申请答复延期待审批",
    "open.reply_extended": "开放申请答复期限已延长",
    "open.extension_refused": "开放申请答复延期未获批准",
    # end conditional open applications
    "open.status_changed": "开放数据集状态变更",
    "open.objection_received": "开放数据收到异议",
    "open.objection_resolved": "开放数据异议办结",
    "open.catalog_correction_requested": "开放目录更正申请待答复",
    "open.catalog_correction_extended": "开放目录更正答复期限已延长",
    "open.catalog_correction_replied": "开放目录更正申请已答复",
    "open.catalog_correction_agreed": "同意更正开放目录",
    "open.feedback_received": "开放数据意见建议",
    "open.feedback_replied": "开放数据意见建议已答复",
}

CHANNELS: dict[str, str] = {"in_app": "站内通知", "email": "电子邮件"}


def label(kind: str) -> str:
    return EVENTS.get(kind, kind)


def default_in_app(kind: str) -> bool:
    return True


def default_email(kind: str) -> bool:
    """Deadlines and a returned catalog entry need action, so they come by e-mail unless turned off."""
    return kind.startswith("obligation.") or kind == "catalog.returned"


def default_for(kind: str, channel: str) -> bool:
    return default_in_app(kind) if channel == "in_app" else default_email(kind)
