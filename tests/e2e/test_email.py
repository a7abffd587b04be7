"""The e-mail outbox against a real SMTP server: an aiosmtpd sink on a free port that
records each mail it accepts and can defer (4xx) or refuse (5xx) on purpose. Invitations
go in through POST /email; the tests watch the sink, the email_outbox rows and /metrics.
"""
import asyncio
import email
import email.policy
import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import unittest
import uuid

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tandem import BASE_ENV, Node, bearer, create_database, psql

SENDER = "invitations@tandem.test"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """An SMTP server in a thread. `replies` are the answers to DATA in turn (then
    `then`): None accepts the mail, a string like "451 4.3.0 later" refuses it. Each
    answer to DATA waits `delay_s`, as a real server's does."""

    def __init__(self, replies=(), then=None, tls_dir=None, credentials=None, delay_s=0):
        self.delay_s = delay_s
        self.lock = threading.Lock()
        self.replies = list(replies)
        self.then = then
        self.accepted = []      # (mail_from, rcpt_tos, message)
        self.refused = 0
        self.logins = []
        kwargs = {}
        if tls_dir:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(os.path.join(tls_dir, "cert.pem"),
                                    os.path.join(tls_dir, "key.pem"))
            kwargs.update(tls_context=context, require_starttls=True)
        if credentials:
            kwargs.update(authenticator=self._authenticate(credentials), auth_required=True)
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()

    def _authenticate(self, credentials):
        def check(server, session, envelope, mechanism, auth_data):
            if not isinstance(auth_data, LoginPassword):
                return AuthResult(success=False, handled=False)
            with self.lock:
                self.logins.append((auth_data.login.decode(), session.ssl is not None))
            ok = (auth_data.login.decode(), auth_data.password.decode()) == credentials
            return AuthResult(success=ok)
        return check

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay_s)
        with self.lock:
            reply = self.replies.pop(0) if self.replies else self.then
            if reply is not None:
                self.refused += 1
                return reply
            message = email.message_from_bytes(envelope.original_content or envelope.content,
                                               policy=email.policy.default)
            self.accepted.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 2.0.0 OK"

    def mails(self):
        with self.lock:
            return list(self.accepted)

    def stop(self):
        self.controller.stop()

    @property
    def url(self):
        return "smtp://127.0.0.1:%d" % self.port


def smtp_env(sink, **extra):
    """A node's settings for `sink`: fast polls and retries, plain SMTP unless told."""
    env = dict(BASE_ENV, TANDEM_SMTP_URL=sink.url, TANDEM_SMTP_FROM=SENDER,
               TANDEM_SMTP_STARTTLS="off", TANDEM_SMTP_POLL_INTERVAL_MS="50",
               TANDEM_SMTP_BACKOFF_BASE_MS="100", TANDEM_SMTP_TIMEOUT_MS="5000")
    env.update({"TANDEM_SMTP_" + k.upper(): str(v) for k, v in extra.items()})
    return env


class OutboxCase(unittest.TestCase):
    def setUp(self):
        self.nodes = []
        self.sinks = []

    def tearDown(self):
        for node in self.nodes:
            node.stop()
        for sink in self.sinks:
            sink.stop()

    def sink(self, **kwargs):
        sink = Sink(**kwargs)
        self.sinks.append(sink)
        return sink

    def node(self, env):
        node = Node(env)
        self.nodes.append(node)
        return node

    def invite(self, node, first="Grace", last="Hopper", recipient=None):
        """POST /email by a new user; returns the recipient."""
        recipient = recipient or "friend-%s@example.com" % uuid.uuid4().hex[:8]
        status, _, body = node.request(
            "POST", "/email", headers=bearer("e2e-" + uuid.uuid4().hex),
            body=json.dumps({"senderFirstName": first, "senderLastName": last,
                             "recipientEmail": recipient}))
        self.assertEqual((status, body), (200, '{"result":"Success"}'))
        return recipient

    def rows(self, node, where="true"):
        """(recipient, attempts, sent, failed, last_error, claim released) of the outbox
        rows, by id; the flags are "t" or "f"."""
        out = subprocess.run(
            ["psql", node.db_dsn, "-v", "ON_ERROR_STOP=1", "-AtqF", "\t", "-c",
             "SELECT recipient_email, attempts, sent_at IS NOT NULL, failed_at IS NOT NULL, "
             "coalesce(last_error, ''), claimed_until IS NULL FROM email_outbox WHERE %s "
             "ORDER BY id" % where],
            check=True, capture_output=True, text=True).stdout
        return [tuple(line.split("\t")) for line in out.splitlines() if line]

    def settled(self, node, recipient):
        """The row of `recipient` once it is sent or failed."""
        def done():
            rows = self.rows(node, "recipient_email = '%s'" % recipient)
            return rows if rows and (rows[0][2] == "t" or rows[0][3] == "t") else None
        return node.wait_for(done, timeout=30)[0]

    def send_one(self, sink, **settings):
        """A node on `sink` queues one invitation; returns the node and the settled row."""
        node = self.node(smtp_env(sink, **settings))
        return node, self.settled(node, self.invite(node))


class Delivery(OutboxCase):
    def test_an_invitation_is_sent_once_over_starttls_with_the_configured_login(self):
        tls_dir = tempfile.TemporaryDirectory(prefix="tandem-e2e-smtp-")
        self.addCleanup(tls_dir.cleanup)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", os.path.join(tls_dir.name, "key.pem"),
                        "-out", os.path.join(tls_dir.name, "cert.pem")],
                       check=True, capture_output=True)
        sink = self.sink(tls_dir=tls_dir.name, credentials=("mailer", "s3cret"))
        node = self.node(smtp_env(sink, starttls="required", username="mailer",
                                  password="s3cret",
                                  ca_file=os.path.join(tls_dir.name, "cert.pem")))
        recipient = self.invite(node, first="Zoë", last="Ångström")
        self.assertEqual(self.settled(node, recipient), (recipient, "1", "t", "f", "", "t"))
        mails = sink.mails()
        self.assertEqual(len(mails), 1, mails)
        mail_from, rcpt_tos, message = mails[0]
        self.assertEqual((mail_from, rcpt_tos), (SENDER, [recipient]))
        self.assertEqual([a.addr_spec for a in message["To"].addresses], [recipient])
        self.assertEqual([a.addr_spec for a in message["From"].addresses], [SENDER])
        self.assertEqual(str(message["Subject"]), "Zoë Ångström invites you to Tandem")
        self.assertIn("Zoë Ångström invites you to Tandem", message.get_content())
        # The login went over the TLS session that STARTTLS opened.
        self.assertEqual(sink.logins, [("mailer", True)])

        # A later invitation goes out too, and the first is not sent again.
        second = self.invite(node)
        self.settled(node, second)
        self.assertEqual([rcpt for _, (rcpt,), _ in sink.mails()], [recipient, second])
        self.assertEqual(node.metric("tandem_emails_sent_total"), 2)
        # The password is a secret: `help` does not show it.
        help_text = subprocess.run([os.environ["TANDEM_TEST_BIN"], "help"],
                                   env=dict(os.environ, TANDEM_SMTP_PASSWORD="s3cret"),
                                   check=True, capture_output=True, text=True).stdout
        self.assertNotIn("s3cret", help_text)
        self.assertIn("--smtp.password (TANDEM_SMTP_PASSWORD) = (set, not shown)", help_text)
        # The sender and its SMTP worker stop with the node.
        self.assertEqual(node.terminate(), 0)

    def test_starttls_required_never_sends_in_the_clear(self):
        sink = self.sink()  # offers no STARTTLS
        _, row = self.send_one(sink, starttls="required", max_attempts=2)
        self.assertEqual(row[1:4], ("2", "f", "t"))
        self.assertEqual(sink.mails(), [])


class Retries(OutboxCase):
    def test_a_server_that_defers_once_gets_the_mail_on_the_retry(self):
        sink = self.sink(replies=["451 4.3.0 Try again later"])
        node, row = self.send_one(sink)
        self.assertEqual(row[1:], ("2", "t", "f", "", "t"))
        self.assertEqual((sink.refused, len(sink.mails())), (1, 1))
        self.assertEqual([node.metric("tandem_emails_%s_total" % kind)
                          for kind in ("retried", "sent", "failed")], [1, 1, 0])

    def test_a_server_that_always_defers_fails_the_row_after_max_attempts(self):
        sink = self.sink(then="452 4.3.1 Insufficient system storage")
        node, row = self.send_one(sink, max_attempts=3)
        self.assertEqual(row[1:4] + (row[4][-11:],), ("3", "f", "t", "(reply 452)"))
        self.assertEqual((sink.refused, sink.mails()), (3, []))
        self.assertEqual([node.metric("tandem_emails_%s_total" % kind)
                          for kind in ("retried", "sent", "failed")], [2, 0, 1])

    def test_a_permanent_refusal_fails_the_row_at_once(self):
        sink = self.sink(then="550 5.1.1 No such user")
        _, row = self.send_one(sink, max_attempts=5)
        self.assertEqual(row[1:4] + (row[4][-11:],), ("1", "f", "t", "(reply 550)"))
        self.assertEqual(sink.refused, 1)


class TwoNodes(OutboxCase):
    def test_two_nodes_on_one_database_send_each_row_once(self):
        # A sink as slow as a real server, so that a batch takes long enough for the
        # other node to claim in the meantime.
        sink = self.sink(delay_s=0.02)
        env = dict(smtp_env(sink, batch=3), TANDEM_DB_DSN=create_database())
        first, second = self.node(env), self.node(env)
        count = 60
        recipients = ["r%03d@example.com" % i for i in range(count)]
        psql(first.db_dsn,
             "INSERT INTO email_outbox (sender_user_id, sender_first_name, sender_last_name, "
             "recipient_email) SELECT 'e2e', 'Ann', 'Lee', 'r' || lpad(i::text, 3, '0') "
             "|| '@example.com' FROM generate_series(0, %d) i" % (count - 1))
        first.wait_for(lambda: len(self.rows(first, "sent_at IS NOT NULL")) == count, timeout=60)
        delivered = sorted(rcpt for _, (rcpt,), _ in sink.mails())
        self.assertEqual(delivered, recipients)
        ids = [message["Message-ID"] for _, _, message in sink.mails()]
        self.assertEqual(len(set(ids)), count)
        sent = [n.metric("tandem_emails_sent_total") for n in (first, second)]
        self.assertEqual(sum(sent), count)
        # Both nodes took part, so the claims really met.
        self.assertTrue(all(n > 0 for n in sent), sent)


if __name__ == "__main__":
    unittest.main()
