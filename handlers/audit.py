"""/audit: the audit log, newest first, a page at a time."""

from __future__ import annotations

from telegram import InlineKeyboardButton, Update

from bot.i18n import _, format_datetime
from bot.services import network
from bot.services.enums import Role
from handlers.admin_buttons import AuditPage
from handlers.common import answer, esc, guarded, requires, show
from handlers.context import Ctx
from handlers.keyboards import button, markup
from handlers.user_text import isolate
from handlers.user_text import line as rtl_line


def action_label(action: str) -> str:
    """An audit action in the reader's language (tests/test_admin.py checks that every action
    the services record has one)."""
    labels = {
        "access.denied": _("access refused"),
        "setting.denied": _("setting change refused"),
        "role.granted": _("role granted"),
        "role.revoked": _("role taken away"),
        "official.removed": _("official removed"),
        "official.registered": _("official registered"),
        "official.approved": _("request approved"),
        "official.rejected": _("request rejected"),
        "official.erased": _("data erased"),
        "official.requested": _("request to join"),
        "official.reachable": _("reachable again"),
        "official.unreachable": _("bot blocked"),
        "invite.created": _("invite created"),
        "export.created": _("export"),
        "broadcast.scheduled": _("broadcast scheduled"),
        "broadcast.sent": _("broadcast sent"),
        "broadcast.cancelled": _("broadcast cancelled"),
        "reminder.created": _("reminder created"),
        "reminder.paused": _("reminder paused"),
        "reminder.resumed": _("reminder resumed"),
        "reminder.deleted": _("reminder deleted"),
        "reminder.late": _("reminder sent late"),
        "reminder.skipped": _("reminder skipped"),
        "library.pinned": _("library entry pinned"),
        "library.unpinned": _("library entry unpinned"),
        "library.retitled": _("library entry retitled"),
        "library.removed": _("library entry removed"),
        "absence.set": _("absence set"),
        "absence.end": _("absence ended"),
        "question.routed_by_hand": _("question routed by hand"),
        "question.volunteered": _("question taken up from the digest"),
    }
    return labels.get(action, action)


def audit_line(item: network.AuditItem, tz: str) -> str:
    actor = item.actor_name or (str(item.actor_tg_id) if item.actor_tg_id else _("system"))
    line = _("{time} · <b>{action}</b> · by {actor}").format(
        time=format_datetime(item.created_at, tz, "short"),
        action=esc(action_label(item.action)),
        actor=isolate(actor),
    )
    if item.target_type == "official":
        line += " → " + isolate(item.target_name or f"#{item.target_id}")
    details = {k: v for k, v in item.details.items() if v not in (None, [], "")}
    if details:
        # key=value pairs read left to right, on a line laid out in the reader's direction
        pairs = ", ".join(f"{k}={v}" for k, v in sorted(details.items()))[:200]
        line += "\n" + rtl_line("   " + isolate(pairs))
    return line


@requires(Role.ORGANISER)
@guarded
async def cmd_audit(update: Update, context: Ctx) -> None:
    """Shows the newest page of the audit log."""
    await show_audit(update, context, 0)


async def show_audit(update: Update, context: Ctx, page: int) -> None:
    deps, tg_id = context.deps, context.who.tg_user_id
    result = await network.audit_page(deps, tg_id, page)
    tz = await network.actor_timezone(deps, tg_id)
    if not result.items:
        await show(update, _("The audit log is empty."))
        return
    head = _("<b>Audit log</b> (page {page} of {pages})").format(
        page=result.page + 1, pages=result.pages
    )
    text = "\n".join([head, *(audit_line(i, tz) for i in result.items)])
    nav: list[InlineKeyboardButton] = []
    if result.page > 0:
        nav.append(button(_("‹ Newer"), AuditPage(result.page - 1)))
    if result.page + 1 < result.pages:
        nav.append(button(_("Older ›"), AuditPage(result.page + 1)))
    await show(update, text, markup(nav))


@requires(Role.ORGANISER)
@guarded
async def on_audit(update: Update, context: Ctx) -> None:
    """Audit log paging."""
    query = update.callback_query
    assert query is not None
    page = AuditPage.decode(query.data).page
    await answer(query)
    await show_audit(update, context, page)
