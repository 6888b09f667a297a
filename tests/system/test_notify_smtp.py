"""Notifications against a real SMTP server (aiosmtpd on 127.0.0.1, started by the test), and the outbox.

The right partners and account managers receive the right messages, the attached scorecard
opens, a second run sends nothing, and a server that fails after N messages leaves exactly N
recorded; `.eml` files in the outbox parse with Python's email package.
"""

from __future__ import annotations

import email
import shutil
import socket
import ssl
import subprocess
import threading
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from cli_runner import tiertui
from publish_builder import CONTACTS, MANAGERS, mitel

from tiertui.services import notify, publishing
from tiertui.services.errors import ServiceError
from tiertui.storage import open_engine


class Inbox:
    """An aiosmtpd handler that keeps what it accepted; after ``fail_after`` messages it refuses."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.rcpt: list[list[str]] = []
        self.fail_after = fail_after
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.fail_after is not None and len(self.messages) >= self.fail_after:
                return "451 4.3.0 mailbox unavailable, try later"
            self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
            self.rcpt.append(list(envelope.rcpt_tos))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    servers = []

    def start(fail_after: int | None = None) -> tuple[Inbox, int]:
        inbox = Inbox(fail_after)
        port = _free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        servers.append(controller)
        return inbox, port

    yield start
    for c in servers:
        c.stop()


@pytest.fixture
def published(engine, tmp_path):
    mitel(engine, tmp_path)
    publishing.publish(engine, "alice", "2015-Q1")
    return engine


def _recorded(engine, period="2015-Q1") -> list[notify.SentLine]:
    return notify.sent(engine, period)


# In 2015-Q1 against 2014-Q4 (the fixture's hand-checked outcomes) every partner's event changed:
# M1 promoted -> held, M2 promoted -> grace, M3 grace -> held, M4 Platinum -> Gold (demoted), M5
# promoted -> held; M5 has no contact_email. Dana's partners: M1, M2, M5; Sam's: M3, M4.
CHANGED = {"M1", "M2", "M3", "M4"}
SENT = len(CHANGED) + len(MANAGERS)


def test_partners_and_managers_get_the_right_messages(published, smtp):
    inbox, port = smtp()
    result = notify.notify(published, "mia", "2015-Q1", notify.SmtpChannel("127.0.0.1", port))
    assert result.complete and result.compared_with == "2014-Q4"
    by_address = {m["To"]: m for m in inbox.messages}
    partner_addresses = {CONTACTS[p][1] for p in CHANGED}
    assert set(by_address) == partner_addresses | set(MANAGERS.values())
    m1 = by_address[CONTACTS["M1"][1]]
    assert "Platinum" in m1["Subject"] and "Northwind Communications" in m1["Subject"]
    body = m1.get_body(preferencelist=("plain",)).get_content()
    assert "Your tier: Platinum." in body and "Kept its tier" in body and "Dear Nia Walker" in body
    m4 = by_address[CONTACTS["M4"][1]].get_body(preferencelist=("plain",)).get_content()
    assert "Your tier: Gold (it was Platinum)." in m4 and "Moved down this period" in m4
    (attachment,) = list(m1.iter_attachments())
    assert attachment.get_content_type() == "text/html" and attachment.get_filename() == "scorecard-M1.html"
    page = attachment.get_content()
    assert '<div class="tier" id="tier">Platinum</div>' in page and "Provisional" not in page
    dana = by_address[MANAGERS["Dana Scully"]].get_body(preferencelist=("plain",)).get_content()
    assert "M1" in dana and "M2" in dana and "M4" not in dana  # Sam's partner is in Sam's digest
    assert "M5  Prairie Voice: Silver (unchanged), held  [no contact_email: not notified]" in dana
    sam = by_address[MANAGERS["Sam Reyes"]].get_body(preferencelist=("plain",)).get_content()
    assert "M4  Bayside Telecom: Platinum -> Gold, demoted, at risk" in sam and "M1" not in sam
    # recorded: each message, with its SMTP message id
    lines = _recorded(published)
    assert len(lines) == len(inbox.messages) == SENT
    assert {line.where for line in lines} == {m["Message-ID"] for m in inbox.messages}
    # a second run sends nothing
    again = notify.notify(published, "mia", "2015-Q1", notify.SmtpChannel("127.0.0.1", port))
    assert again.sent_partners == again.sent_digests == 0 and again.already == SENT
    assert len(inbox.messages) == SENT
    # --resend repeats, recorded as such
    notify.notify(published, "mia", "2015-Q1", notify.SmtpChannel("127.0.0.1", port), resend=True)
    assert len(inbox.messages) == 2 * SENT
    assert sum(line.resend for line in _recorded(published)) == SENT


def test_partner_without_an_address_is_listed(published, tmp_path):
    result = notify.notify(published, "mia", "2015-Q1", notify.OutboxChannel(tmp_path / "outbox"))
    assert result.compared_with == "2014-Q4"  # publish 2015-Q1 published every period up to it
    assert result.without_address == [("M5", "Prairie Voice")]
    assert "1 changed partner has no contact_email (not notified): M5 Prairie Voice" in result.text()


def test_a_failing_server_leaves_exactly_what_was_sent_recorded(published, smtp):
    inbox, port = smtp(fail_after=2)
    result = notify.notify(published, "mia", "2015-Q1", notify.SmtpChannel("127.0.0.1", port))
    assert not result.complete and "451" in result.failed
    assert len(inbox.messages) == 2
    lines = _recorded(published)
    assert len(lines) == 2 and {line.address for line in lines} == {m["To"] for m in inbox.messages}
    # the rest goes on the next run, against a server that works, and nothing twice
    inbox2, port2 = smtp()
    notify.notify(published, "mia", "2015-Q1", notify.SmtpChannel("127.0.0.1", port2))
    assert {m["To"] for m in inbox.messages}.isdisjoint({m["To"] for m in inbox2.messages})
    assert len(_recorded(published)) == SENT


def test_outbox_files_parse_and_attachments_open(published, tmp_path):
    outbox = tmp_path / "outbox"
    result = notify.notify(published, "mia", "2015-Q1", notify.OutboxChannel(outbox))
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == result.sent_partners + result.sent_digests == SENT
    for f in files:
        msg = email.message_from_bytes(f.read_bytes(), policy=policy.default)
        assert msg["To"] and msg["Message-ID"] and msg["Subject"]
        if msg["To"] in MANAGERS.values():
            continue
        (att,) = list(msg.iter_attachments())
        assert "<!DOCTYPE html>" in att.get_content()
    assert {Path(line.where) for line in _recorded(published)} == set(files)
    assert not list(outbox.glob("*.part"))


def test_unpublished_period_is_refused(engine, tmp_path):
    mitel(engine, tmp_path)
    with pytest.raises(ServiceError, match="2015-Q1 is not published"):
        notify.notify(engine, "mia", "2015-Q1", notify.OutboxChannel(tmp_path / "o"))
    assert not (tmp_path / "o").exists()


def test_cli_notify_keeps_smtp_credentials_secret(db_url, tmp_path, smtp):
    engine = open_engine(db_url)
    from db_builder import seat_team

    seat_team(engine)
    mitel(engine, tmp_path)
    publishing.publish(engine, "alice", "2015-Q1")
    engine.dispose()
    inbox, port = smtp()
    secret = "s3cr3t-pa55"
    proc = tiertui(
        "notify",
        "--period",
        "2015-Q1",
        "--smtp",
        f"127.0.0.1:{port}",
        "--db",
        db_url,
        env={"TIERTUI_SMTP_USER": "mailer", "TIERTUI_SMTP_PASSWORD": secret},
        check=False,
    )
    # aiosmtpd offers no AUTH without TLS: the login is refused, and the password is nowhere
    assert secret not in proc.stdout + proc.stderr
    assert proc.returncode != 0 and "cannot use the SMTP server 127.0.0.1" in proc.stderr, proc.stderr
    proc = tiertui("notify", "--period", "2015-Q1", "--outbox", str(tmp_path / "out"), "--db", db_url, user="mia")
    assert "sent 4 partner e-mails and 2 manager digests" in proc.stdout
    assert "M5 Prairie Voice" in proc.stdout
    assert len(list((tmp_path / "out").glob("*.eml"))) == SENT


@pytest.mark.parametrize("name", ["Société Générale 🇩🇪", "Acme\r\nBcc: evil@attacker.example", "<script>x</script>"])
def test_hostile_or_foreign_names_stay_inside_one_header(engine, tmp_path, name):
    mitel(engine, tmp_path, rename={"M1": name})
    publishing.publish(engine, "alice", "2015-Q1")
    notify.notify(engine, "mia", "2015-Q1", notify.OutboxChannel(tmp_path / "outbox"))
    (eml,) = [f for f in (tmp_path / "outbox").glob("*.eml") if CONTACTS["M1"][1] in f.read_text()]
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["Bcc"] is None and msg.get_all("To") == [CONTACTS["M1"][1]]
    assert msg["Subject"].startswith("Mitel") and "is Platinum for 2015-Q1" in msg["Subject"]
    if "Société" in name:
        assert name in msg["Subject"]  # encoded on the wire, whole when read
    (att,) = list(msg.iter_attachments())
    assert "<script>" not in att.get_content()


def test_messages_composed_by_several_processes_equal_those_composed_by_one(published, tmp_path, monkeypatch, smtp):
    def read(folder: Path) -> list[tuple]:
        out = []
        for f in folder.glob("*.eml"):
            msg = email.message_from_bytes(f.read_bytes(), policy=policy.default)
            parts = [p.get_content() for p in msg.walk() if not p.is_multipart()]
            out.append((f.name, msg["To"], msg["Subject"], tuple(parts)))
        return sorted(out)

    notify.notify(published, "mia", "2015-Q1", notify.OutboxChannel(tmp_path / "one"))
    monkeypatch.setattr(notify, "PARALLEL_FROM", 2)
    monkeypatch.setattr(notify, "CHUNK", 1)
    monkeypatch.setattr(notify.os, "cpu_count", lambda: 2)
    notify.notify(published, "mia", "2015-Q1", notify.OutboxChannel(tmp_path / "many"), resend=True)
    assert read(tmp_path / "one") == read(tmp_path / "many") and len(read(tmp_path / "one")) == SENT
    # and a server failing part-way while processes compose ahead: exactly what it accepted is recorded
    inbox, port = smtp(fail_after=3)
    result = notify.notify(published, "mia", "2015-Q1", notify.SmtpChannel("127.0.0.1", port), resend=True)
    assert not result.complete and len(inbox.messages) == 3
    assert sum(1 for line in _recorded(published) if line.channel == "smtp") == 3


# --------------------------------------------------------------------------- --starttls, for real


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throw-away certificate authority and a server certificate it signed for 127.0.0.1 (with
    ``openssl``): (the authority's certificate, the server's certificate, its key)."""
    ca_key, ca, key, csr, cert = (folder / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    ext = folder / "server.ext"
    ext.write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n"
        "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n",
        encoding="utf-8",
    )
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)  # noqa: E731
    run(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
        "-subj", "/CN=tiertui test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    run("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    run(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "2", "-extfile", str(ext),
    )  # fmt: skip
    return ca, cert, key


class Logins:
    """An aiosmtpd authenticator that accepts one user and password and remembers every attempt
    (and whether the connection was encrypted when it came)."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.attempts: list[tuple[str, str, bool]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.attempts.append((login, password, session.ssl is not None))
        return AuthResult(success=(login, password) == (self.user, self.password), handled=False)


class TlsInbox(Inbox):
    """An Inbox that also notes, per message, whether it came over TLS and as which user."""

    def __init__(self) -> None:
        super().__init__()
        self.over_tls: list[bool] = []
        self.users: list[object] = []

    async def handle_DATA(self, server, session, envelope):
        self.over_tls.append(session.ssl is not None)
        self.users.append(session.auth_data)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    return _certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_smtp(certificates):
    """An SMTP server on 127.0.0.1 that requires STARTTLS before anything, and AUTH (over TLS only)
    before mail: ``start(user, password)`` -> (inbox, logins, port)."""
    servers = []

    def start(user: str, password: str) -> tuple[TlsInbox, Logins, int]:
        _ca, cert, key = certificates
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key))
        inbox, logins, port = TlsInbox(), Logins(user, password), _free_port()
        controller = Controller(
            inbox,
            hostname="127.0.0.1",
            port=port,
            tls_context=context,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            authenticator=logins,
        )
        controller.start()
        servers.append(controller)
        return inbox, logins, port

    yield start
    for c in servers:
        c.stop()


@pytest.fixture
def published_db(db_url, tmp_path):
    engine = open_engine(db_url)
    from db_builder import seat_team

    seat_team(engine)
    mitel(engine, tmp_path)
    publishing.publish(engine, "alice", "2015-Q1")
    engine.dispose()
    return db_url


def _notify_cli(db_url: str, port: int, *extra: str, env: dict[str, str]):
    return tiertui(
        "notify", "--period", "2015-Q1", "--smtp", f"127.0.0.1:{port}", *extra, "--db", db_url,
        env=env, user="mia", check=False,
    )  # fmt: skip


def test_cli_starttls_sends_after_tls_with_the_environment_credentials_never_printed(
    published_db, tls_smtp, certificates
):
    ca, _cert, _key = certificates
    secret = "s3cr3t-pa55-tls"
    inbox, logins, port = tls_smtp("mailer", secret)
    env = {"TIERTUI_SMTP_USER": "mailer", "TIERTUI_SMTP_PASSWORD": secret, "SSL_CERT_FILE": str(ca)}
    proc = _notify_cli(published_db, port, "--starttls", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "sent 4 partner e-mails and 2 manager digests" in proc.stdout
    assert secret not in proc.stdout + proc.stderr
    # the login came from the environment, once, over TLS; every message came after STARTTLS
    assert logins.attempts == [("mailer", secret, True)]
    assert len(inbox.messages) == SENT and all(inbox.over_tls)
    assert {m["To"] for m in inbox.messages} == {CONTACTS[p][1] for p in CHANGED} | set(MANAGERS.values())
    engine = open_engine(published_db)
    assert len(_recorded(engine)) == SENT
    engine.dispose()


def test_cli_starttls_with_a_wrong_password_sends_nothing_and_says_so(published_db, tls_smtp, certificates):
    ca, _cert, _key = certificates
    inbox, logins, port = tls_smtp("mailer", "right-one")
    wrong = "wr0ng-pa55"
    env = {"TIERTUI_SMTP_USER": "mailer", "TIERTUI_SMTP_PASSWORD": wrong, "SSL_CERT_FILE": str(ca)}
    proc = _notify_cli(published_db, port, "--starttls", env=env)
    assert proc.returncode != 0 and wrong not in proc.stdout + proc.stderr
    assert "the server refused the login of TIERTUI_SMTP_USER" in proc.stderr, proc.stderr
    # smtplib tries each mechanism the server offers (PLAIN, then LOGIN): every try over TLS
    assert logins.attempts and set(logins.attempts) == {("mailer", wrong, True)} and inbox.messages == []
    engine = open_engine(published_db)
    assert _recorded(engine) == []
    engine.dispose()


def test_an_untrusted_certificate_is_refused_with_a_clear_message(published_db, tls_smtp, certificates, tmp_path):
    """Verification is never turned off: the test's own authority is not trusted unless named."""
    inbox, logins, port = tls_smtp("mailer", "pw")
    other = tmp_path / "empty.pem"
    other.write_text("", encoding="utf-8")
    env = {"TIERTUI_SMTP_USER": "mailer", "TIERTUI_SMTP_PASSWORD": "pw", "SSL_CERT_FILE": str(other)}
    proc = _notify_cli(published_db, port, "--starttls", env=env)
    assert proc.returncode != 0
    assert "its TLS certificate is not trusted" in proc.stderr and "SSL_CERT_FILE" in proc.stderr, proc.stderr
    assert logins.attempts == [] and inbox.messages == []  # the password never left


def test_a_server_without_starttls_gives_a_clear_message(published, smtp):
    inbox, port = smtp()  # the plain server: no STARTTLS offered
    channel = notify.SmtpChannel("127.0.0.1", port, starttls=True, user="mailer", password="pw")
    with pytest.raises(ServiceError) as raised:
        notify.notify(published, "mia", "2015-Q1", channel)
    message = str(raised.value)
    assert "the server does not offer STARTTLS" in message and "nothing was sent" in message
    assert "pw" not in message.replace("STARTTLS", "")
    assert inbox.messages == [] and _recorded(published) == []


def test_credentials_are_never_sent_without_starttls(published, smtp):
    inbox, port = smtp()
    channel = notify.SmtpChannel("127.0.0.1", port, user="mailer", password="pw")
    with pytest.raises(
        ServiceError, match="refusing to send the SMTP password .* unencrypted connection; add --starttls"
    ):
        notify.notify(published, "mia", "2015-Q1", channel)
    assert inbox.messages == [] and _recorded(published) == []
