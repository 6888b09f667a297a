"""Notifications of a published period (issue 15): what changed, told to partners and their managers.

For each partner whose effective tier, event or at-risk state changed since the previous published
period (with no earlier published period: since the previous evaluated period), one e-mail to the
partner's ``contact_email`` with a short summary and its scorecard page attached; for each
account manager one digest of their partners' changes. An account manager is reached when the
``account_manager`` column holds an e-mail address; otherwise the digest is listed as having no
address, like partners without a ``contact_email``: never skipped silently.

Messages go to an outbox folder as standard ``.eml`` files (the default), or to an SMTP server.
Each message is recorded (``notification``) right after it was written or accepted by the
server, in its own short transaction for SMTP, so a failure part-way leaves the record true to
what was really sent; running again sends only what is not recorded (``resend=True`` repeats all,
and is audited).
"""

from __future__ import annotations

import multiprocessing
import os
import smtplib
import ssl
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

from jinja2 import Environment
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..safe_text import visible
from ..scoring import parse_period
from ..storage import queries
from ..storage.tables import Notification
from . import audit, publishing, report, roles
from .errors import ServiceError
from .imports import email_ok

ENV_FROM = "TIERTUI_MAIL_FROM"
DEFAULT_FROM = "partner-program@localhost"
MAIL_DOMAIN = "tiertui.invalid"
Progress = Callable[[int, int], None]


WIRE = compat32.clone(linesep="\r\n")  # lines end in CRLF, in an outbox file as on the wire (RFC 5322)


@dataclass(frozen=True)
class Mail:
    """A message ready to go: its bytes, envelope and the name of its outbox file (no suffix)."""

    data: bytes
    sender: str
    to: str
    message_id: str
    stem: str

    @classmethod
    def of(cls, message: Message, sender: str, to: str, stem: str) -> Mail:
        return cls(message.as_bytes(policy=WIRE), sender, to, str(message["Message-ID"]), stem)


class Channel(Protocol):
    name: str

    def open(self) -> None: ...

    def send(self, mail: Mail) -> tuple[str, str]:
        """Deliver ``mail``; return (outbox file, message id) as recorded."""
        ...

    def close(self) -> None: ...


class OutboxChannel:
    """Standard ``.eml`` files in a folder: any mail client opens them."""

    name = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def open(self) -> None:
        if self.folder.exists() and not self.folder.is_dir():
            raise ServiceError(f"{self.folder} is a file, not a folder")
        self.folder.mkdir(parents=True, exist_ok=True)

    def send(self, mail: Mail) -> tuple[str, str]:
        target = self.folder / f"{mail.stem}.eml"
        n = 2
        while target.exists():
            target = self.folder / f"{mail.stem}-{n}.eml"
            n += 1
        partial = target.with_name(target.name + ".part")
        partial.write_bytes(mail.data)
        partial.replace(target)  # a file in the outbox is always a whole message
        return str(target), mail.message_id

    def close(self) -> None:
        pass


class SmtpChannel:
    """An SMTP server; credentials (if any) from the environment, never printed."""

    name = "smtp"

    def __init__(
        self, host: str, port: int, *, starttls: bool = False, user: str | None = None, password: str | None = None
    ) -> None:
        self.host, self.port, self.starttls = host, port, starttls
        self._user, self._password = user, password
        self._smtp: smtplib.SMTP | None = None

    def open(self) -> None:
        where = f"cannot use the SMTP server {self.host}:{self.port}"
        if self._user and not self.starttls:
            raise ServiceError(
                f"{where}: refusing to send the SMTP password (TIERTUI_SMTP_PASSWORD) over an unencrypted "
                "connection; add --starttls"
            )
        smtp = None
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=30)
            if self.starttls:
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise ServiceError(
                        f"{where}: the server does not offer STARTTLS, so --starttls cannot encrypt the "
                        "connection; nothing was sent (use the server's STARTTLS port, often 587)"
                    )
                # verified against the system's certificate authorities (SSL_CERT_FILE names another
                # bundle, for a relay with a private authority); verification is never turned off
                smtp.starttls(context=ssl.create_default_context())
            if self._user:
                smtp.login(self._user, self._password or "")
        except ssl.SSLCertVerificationError as exc:
            _quietly_close(smtp)
            raise ServiceError(
                f"{where}: its TLS certificate is not trusted ({exc.verify_message}); if it is signed by "
                "your own certificate authority, point SSL_CERT_FILE at that authority's certificate file"
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            _quietly_close(smtp)
            raise ServiceError(
                f"{where}: the server refused the login of TIERTUI_SMTP_USER ({_smtp_error(exc)})"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            _quietly_close(smtp)
            raise ServiceError(f"{where}: {_smtp_error(exc)}") from None
        except ServiceError:
            _quietly_close(smtp)
            raise
        self._smtp = smtp

    def send(self, mail: Mail) -> tuple[str, str]:
        assert self._smtp is not None
        self._smtp.sendmail(mail.sender, [mail.to], mail.data)
        return "", mail.message_id

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None


def _quietly_close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        try:
            smtp.close()
        except OSError:
            pass


def _smtp_error(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {text}"
    return str(exc) or exc.__class__.__name__


# --------------------------------------------------------------------------- what changed


@dataclass(frozen=True)
class Change:
    key: int
    partner_id: str
    name: str
    manager: str
    contact_name: str
    address: str
    tier: str
    event: str
    at_risk: bool
    before_tier: str | None
    before_event: str | None
    before_at_risk: bool | None

    def summary(self) -> str:
        what = []
        if self.before_tier is None:
            what.append(f"{self.tier} (first result)")
        elif self.before_tier != self.tier:
            what.append(f"{self.before_tier} -> {self.tier}")
        else:
            what.append(f"{self.tier} (unchanged)")
        what.append(self.event)
        if self.at_risk != bool(self.before_at_risk):
            what.append("now at risk" if self.at_risk else "no longer at risk")
        elif self.at_risk:
            what.append("at risk")
        return ", ".join(what)


def changes(engine: Engine, period: str) -> tuple[str, str | None, list[Change]]:
    """(period label, the period compared with, the partners whose result changed)."""
    label = parse_period(period).label
    with engine.connect() as conn:
        published = publishing.published_set(conn)
        evaluated = sorted(
            {r[0] for r in queries.fetchall(conn, "SELECT DISTINCT period FROM level_result")}, key=parse_period
        )
        if label not in evaluated:
            raise ServiceError(f"no results for {label}: run tiertui level first")
        if label not in published:
            raise ServiceError(
                f"{label} is not published: publish it first (tiertui publish {label}), "
                "so that partners are never told a provisional result"
            )
        earlier = [p for p in evaluated if parse_period(p) < parse_period(label)]
        previous = next((p for p in reversed(earlier) if p in published), earlier[-1] if earlier else None)
        now = queries.fetchall(
            conn,
            "SELECT p.key, p.partner_id, p.name, p.account_manager, p.contact_name, p.contact_email, "
            "r.effective_tier, r.event, r.at_risk FROM level_result r JOIN partner p ON p.key = r.partner_key "
            "WHERE r.period = ? ORDER BY p.partner_id",
            (label,),
        )
        before = {}
        if previous is not None:
            before = {
                r[0]: (r[1], r[2], bool(r[3]))
                for r in queries.fetchall(
                    conn,
                    "SELECT partner_key, effective_tier, event, at_risk FROM level_result WHERE period = ?",
                    (previous,),
                )
            }
    out = []
    for key, pid, name, manager, contact, address, tier, event, risk in now:
        was = before.get(key)
        if was is not None and was == (tier, event, bool(risk)):
            continue
        out.append(
            Change(
                key,
                pid,
                name,
                manager or "",
                contact or "",
                address or "",
                tier,
                event,
                bool(risk),
                was[0] if was else None,
                was[1] if was else None,
                was[2] if was else None,
            )
        )
    return label, previous, out


# --------------------------------------------------------------------------- the messages


def _header(text: str) -> str | Header:
    """Data in a header: one line, nothing invisible (a newline would start a new header);
    non-ASCII text encoded as RFC 2047 UTF-8."""
    line = visible(text)[:200]
    return line if line.isascii() else Header(line, "utf-8")


def _message(sender: str, to: str, subject: str) -> MIMEMultipart:
    """A multipart message built with the compat32 API: the same standard message as
    ``EmailMessage`` writes, at less than half the cost per message (notify writes thousands)."""
    msg = MIMEMultipart()
    # compat32 takes a Header value; typeshed's MIMEBase is Message[str, str], so str only
    msg["From"] = _header(sender)  # type: ignore[assignment]  # Header is valid here
    msg["To"] = _header(to)  # type: ignore[assignment]  # Header is valid here
    msg["Subject"] = _header(subject)  # type: ignore[assignment]  # Header is valid here
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=MAIL_DOMAIN)
    return msg


def partner_message(change: Change, page: report.PartnerPage, html: str, period: str, sender: str) -> MIMEMultipart:
    msg = _message(sender, change.address, f"{page.program}: {change.name} is {change.tier} for {period}")
    greeting = f"Dear {visible(change.contact_name)}," if change.contact_name else "Hello,"
    lines = [greeting, "", f"the results of {period} for {visible(change.name)} are published.", ""]
    if change.before_tier is not None and change.before_tier != change.tier:
        lines.append(f"Your tier: {change.tier} (it was {change.before_tier}).")
    else:
        lines.append(f"Your tier: {change.tier}.")
    lines.append(f"{page.event}.")
    if page.gap and page.next_tier:
        lines += ["", f"To reach {page.next_tier}:"] + [f"  - {visible(g)}" for g in page.gap]
    if page.risks:
        lines += ["", "At risk:"] + [f"  - {visible(r)}" for r in page.risks]
    lines += ["", "Your scorecard is attached: open it in any web browser, or print it.", ""]
    msg.attach(MIMEText("\n".join(lines), "plain", "utf-8"))
    attachment = MIMEText(html, "html", "utf-8")
    attachment.add_header("Content-Disposition", "attachment", filename=f"scorecard-{page.file_name}")
    msg.attach(attachment)
    return msg


def digest_message(manager: str, items: Sequence[Change], period: str, program: str, sender: str) -> MIMEMultipart:
    msg = _message(sender, manager, f"{program}: {len(items)} of your partners changed in {period}")
    lines = [f"Changes in {period} for your partners:", ""]
    for c in items:
        note = "" if c.address else "  [no contact_email: not notified]"
        lines.append(f"  {visible(c.partner_id)}  {visible(c.name)}: {c.summary()}{note}")
    msg.attach(MIMEText("\n".join(lines) + "\n", "plain", "utf-8"))
    return msg


# --------------------------------------------------------------------------- sending


@dataclass
class NotifyResult:
    period: str
    compared_with: str | None
    channel: str
    changed: int = 0
    sent_partners: int = 0
    sent_digests: int = 0
    already: int = 0
    without_address: list[tuple[str, str]] = field(default_factory=list)
    managers_without_address: list[str] = field(default_factory=list)
    failed: str = ""
    where: str = ""

    @property
    def complete(self) -> bool:
        return not self.failed

    def text(self) -> str:
        since = f"since {self.compared_with}" if self.compared_with else "(no earlier period)"
        lines = [
            f"{self.period}: {self.changed:,} partner{'s' if self.changed != 1 else ''} changed {since}; "
            f"sent {self.sent_partners:,} partner e-mail{'s' if self.sent_partners != 1 else ''} and "
            f"{self.sent_digests:,} manager digest{'s' if self.sent_digests != 1 else ''} ({self.channel}"
            + (f": {self.where}" if self.where else "")
            + ")"
        ]
        if self.already:
            lines.append(f"{self.already:,} already sent earlier, not sent again (--resend repeats them)")
        if self.without_address:
            shown = ", ".join(f"{visible(p)} {visible(n)}" for p, n in self.without_address[:20])
            more = len(self.without_address) - 20
            lines.append(
                f"{len(self.without_address):,} changed partner{'s have' if len(self.without_address) != 1 else ' has'} "
                f"no contact_email (not notified): {shown}" + (f" and {more:,} more" if more > 0 else "")
            )
        if self.managers_without_address:
            lines.append(
                "account managers without an e-mail address (no digest): "
                + ", ".join(visible(m) for m in self.managers_without_address[:20])
            )
        if self.failed:
            lines.append(f"stopped: {self.failed}; what was sent before is recorded, run again to send the rest")
        return "\n".join(lines)


def _sent_before(engine: Engine, period: str) -> set[tuple[str, int | None, str, str]]:
    with engine.connect() as conn:
        return {
            (r[0], r[1], r[2] or "", r[3])
            for r in queries.fetchall(
                conn, "SELECT kind, partner_key, manager, address FROM notification WHERE period = ?", (period,)
            )
        }


def notify(
    engine: Engine,
    user: str,
    period: str,
    channel: Channel,
    *,
    resend: bool = False,
    progress: Progress | None = None,
) -> NotifyResult:
    roles.check(engine, user, "manager", "sending notifications")
    label, previous, changed = changes(engine, period)
    result = NotifyResult(label, previous, channel.name, changed=len(changed))
    if isinstance(channel, OutboxChannel):
        result.where = str(channel.folder)
    sender = os.environ.get(ENV_FROM) or DEFAULT_FROM
    done = set() if resend else _sent_before(engine, label)
    with_address = [c for c in changed if c.address and email_ok(c.address)]
    result.without_address = [(c.partner_id, c.name) for c in changed if not (c.address and email_ok(c.address))]
    todo = [c for c in with_address if ("partner", c.key, "", c.address) not in done]
    result.already = len(with_address) - len(todo)
    by_manager: dict[str, list[Change]] = {}
    for c in changed:
        by_manager.setdefault(c.manager, []).append(c)
    digests = []
    for manager, items in sorted(by_manager.items()):
        if not manager or not email_ok(manager):
            result.managers_without_address.append(manager or "(no account manager)")
            continue
        if ("digest", None, manager, manager) in done:
            result.already += 1
            continue
        digests.append((manager, items))
    if not todo and not digests:
        _record_run(engine, user, label, result, resend)
        return result
    env = report.environment()
    by_id = {c.partner_id: c for c in todo}
    batch = report._prepare(engine, label, only=set(by_id)) if todo else None
    program = batch.program if batch is not None else report.results_program(engine)
    total = len(todo) + len(digests)
    pending: list[Notification] = []
    smtp = isinstance(channel, SmtpChannel)
    channel.open()
    mails = _partner_mails(batch, env, by_id, label, sender)
    try:
        n = 0
        for pid, mail in mails:
            c = by_id[pid]
            outbox, message_id = channel.send(mail)
            pending.append(_row(label, "partner", c.key, "", c.address, user, channel.name, outbox, message_id, resend))
            result.sent_partners += 1
            n += 1
            if smtp or len(pending) >= 500:
                _store(engine, pending)
            if progress and n % 100 == 0:
                progress(n, total)
        for manager, items in digests:
            msg = digest_message(manager, items, label, program.name, sender)
            stem = f"{label}-digest-{report.file_name_for(manager, set())[:-5]}"
            outbox, message_id = channel.send(Mail.of(msg, sender, manager, stem))
            pending.append(
                _row(label, "digest", None, manager, manager, user, channel.name, outbox, message_id, resend)
            )
            result.sent_digests += 1
            n += 1
            if smtp or len(pending) >= 500:
                _store(engine, pending)
        if progress:
            progress(total, total)
    except (OSError, smtplib.SMTPException) as exc:
        result.failed = (
            f"the {channel.name} failed after {result.sent_partners + result.sent_digests} messages: {_smtp_error(exc)}"
        )
    finally:
        mails.close()  # stops the composing processes, if any
        _store(engine, pending)
        channel.close()
        _record_run(engine, user, label, result, resend)
    return result


PROCESSES = 4  # at most this many processes compose partner messages (no more than the machine has cores)
PARALLEL_FROM = 1000  # messages; fewer are composed in this process
CHUNK = 250
_WORK: tuple[report._Batch, Environment, dict[str, Change], str, str] | None = None  # read after fork


def _partner_mails(
    batch: report._Batch | None, env: Environment, by_id: dict[str, Change], period: str, sender: str
) -> Generator[tuple[str, Mail], None, None]:
    """(partner id, its message) in partner order; composed by forked processes when there are many
    (each builds the page, renders it and writes the MIME bytes); sent and recorded by the caller."""
    if batch is None:
        return
    rows = batch.rows
    workers = min(PROCESSES, os.cpu_count() or 1)
    if len(rows) < PARALLEL_FROM or workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        for row in rows:
            yield _compose(batch, env, by_id, period, sender, row)
        return
    global _WORK
    _WORK = (batch, env, by_id, period, sender)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            chunks = [(i, min(i + CHUNK, len(rows))) for i in range(0, len(rows), CHUNK)]
            for part in pool.imap(_compose_chunk, chunks):
                yield from part
    finally:
        _WORK = None


def _compose_chunk(bounds: tuple[int, int]) -> list[tuple[str, Mail]]:
    assert _WORK is not None
    batch, env, by_id, period, sender = _WORK
    return [_compose(batch, env, by_id, period, sender, row) for row in batch.rows[bounds[0] : bounds[1]]]


def _compose(
    batch: report._Batch, env: Environment, by_id: dict[str, Change], period: str, sender: str, row: tuple
) -> tuple[str, Mail]:
    page = batch.page(row)
    c = by_id[page.partner_id]
    msg = partner_message(c, page, report.render_page(env, page), period, sender)
    return page.partner_id, Mail.of(msg, sender, c.address, f"{period}-partner-{page.file_name[:-5]}")


def _row(period, kind, key, manager, address, user, channel, outbox, message_id, resend) -> Notification:
    return Notification(
        period=period,
        kind=kind,
        partner_key=key,
        manager=manager,
        address=address,
        sent_by=user,
        channel=channel,
        outbox_file=outbox,
        message_id=message_id,
        resend=resend,
    )


def _store(engine: Engine, pending: list[Notification]) -> None:
    if not pending:
        return
    with Session(engine) as session, session.begin():
        session.add_all(pending)
    pending.clear()


def _record_run(engine: Engine, user: str, period: str, result: NotifyResult, resend: bool) -> None:
    with Session(engine) as session, session.begin():
        audit.record(
            session,
            user,
            "notify.resend" if resend else "notify",
            "period",
            period,
            channel=result.channel,
            partners=result.sent_partners,
            digests=result.sent_digests,
            without_address=len(result.without_address),
            failed=result.failed,
        )


# --------------------------------------------------------------------------- reading the record


@dataclass(frozen=True)
class SentLine:
    sent_at: str
    kind: str
    partner_id: str
    name: str
    address: str
    channel: str
    where: str
    resend: bool


def sent(engine: Engine, period: str) -> list[SentLine]:
    """What was notified for ``period`` and to whom, newest first."""
    label = parse_period(period).label
    with engine.connect() as conn:
        rows = queries.fetchall(
            conn,
            "SELECT n.sent_at, n.kind, p.partner_id, p.name, n.manager, n.address, n.channel, n.outbox_file, "
            "n.message_id, n.resend FROM notification n LEFT JOIN partner p ON p.key = n.partner_key "
            "WHERE n.period = ? ORDER BY n.id DESC",
            (label,),
        )
    return [
        SentLine(
            str(r[0])[:19],
            r[1],
            r[2] or "",
            r[3] or r[4] or "",
            r[5],
            r[6],
            r[7] or r[8] or "",
            bool(r[9]),
        )
        for r in rows
    ]
