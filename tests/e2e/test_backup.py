"""scripts/backup and scripts/restore against a real node's database (docs/backup.md): a
backup, a wiped database and a restore bring back profiles, a friendship, a shared page, a
chat message and a password login; a restore that cannot be done (a missing, foreign or
truncated file, a running node, tables of a newer schema) fails with a clear message and a
non-zero exit and leaves the database as it was; a failed backup leaves no file.

Accounts sign up with a password (POST /auth/register) rather than minted tokens, so that
the login after the restore checks the restored password hash.
"""
import os
import subprocess
import tempfile
import uuid

from tandem import FAST_ARGON2, ChatCase, Chatter, Node, path_of, psql, required_env

SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "scripts")
PASSWORD = "correct horse battery"
UNCHANGED = "the database was not changed"


def run_script(name, dsn, *args):
    """scripts/<name> ARGS on the database `dsn`: the CompletedProcess (text)."""
    return subprocess.run([os.path.join(SCRIPTS, name), *args], capture_output=True, text=True,
                          env=dict(os.environ, TANDEM_DB_DSN=dsn), timeout=120)


def query(dsn, sql):
    return subprocess.run(["psql", dsn, "-X", "-v", "ON_ERROR_STOP=1", "-tAc", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def fingerprint(dsn):
    """Every public table of `dsn` with a digest of all its rows."""
    tables = query(dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "ORDER BY 1").split()
    return {t: query(dsn, f'SELECT count(*) || \':\' || coalesce(md5(string_agg(r::text, \',\' '
                          f'ORDER BY r::text)), \'\') FROM "{t}" r') for t in tables}


class Account(Chatter):
    """A Chatter that signed up with an e-mail and a password, then made its profile."""

    def __init__(self, test, first, last):
        super().__init__(test, first, last, register=False)
        status, body = self.call("POST", "/auth/register",
                                 {"email": self.email, "password": PASSWORD})
        test.assertEqual(status, 201, body)
        self.use(body)
        self.ok("POST", "/users/me", {"first_name": first, "last_name": last})

    def use(self, pair):
        self.id, self.token = pair["user_id"], pair["access_token"]
        self.headers = {"Authorization": "Bearer " + self.token}

    def login(self, password=PASSWORD):
        """(status, body) of POST /auth/login; on 200 this account uses the new token."""
        status, body = self.call("POST", "/auth/login",
                                 {"email": self.email, "password": password})
        if status == 200:
            self.use(body)
        return status, body


class BackupCase(ChatCase):
    """A node of each test's own, as the tests stop it and start others."""
    node_env = dict(ChatCase.node_env, **FAST_ARGON2)

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.start_node()

    def backup(self, file):
        done = run_script("backup", self.node.db_dsn, file)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertTrue(os.path.isfile(file), done.stderr)
        return file

    def restore(self, file, *flags):
        return run_script("restore", self.node.db_dsn, *flags, file)

    def stop_node(self):
        self.assertEqual(self.node.terminate(), 0)

    def start_node(self, **env):
        """A node (stopped at the end of the test), on a new database unless `env` names one."""
        self.node = Node(dict(self.node_env, **env))
        self.addCleanup(self.node.stop)

    def directory(self):
        d = tempfile.TemporaryDirectory(prefix="tandem-e2e-backup-")
        self.addCleanup(d.cleanup)
        return d.name

    def assert_failed(self, done, *phrases):
        """Exit status 1 and one clear error line that says each phrase."""
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("error: ", done.stderr)
        for phrase in phrases:
            self.assertIn(phrase, done.stderr)


class BackupRoundTrip(BackupCase):

    def reads(self, ann, bob, cid):
        """What the two see of each other, their share and their chat."""
        return {"ann": ann.ok("GET", "/users/me"), "bob": bob.ok("GET", "/users/me"),
                "bob seen by ann": ann.ok("GET", path_of("users", "id", bob.id)),
                "friendship": ann.check(bob), "ann's friends": bob.friends_of(ann),
                "bob's friends": ann.friends_of(bob),
                "received": bob.ok("GET", "/notifications/share"),
                "sent": ann.ok("GET", "/notifications/share/sent"),
                "bob's chats": bob.conversations(), "messages": bob.history(cid)}

    def test_backup_wipe_and_restore_bring_back_profiles_friends_shares_chat_and_logins(self):
        ann, bob = Account(self, "Ann", "Archer"), Account(self, "Bob", "Baker")
        ann.befriend(bob)
        ann.ok("POST", "/notifications/share", {"url": "https://news.example/a", "title": "A"})
        cid = ann.create([bob])

        async def chat():
            socket = await ann.connect("/ws/chat")
            await socket.say(cid, "see you at noon")
        self.scenario(chat)
        before = self.reads(ann, bob, cid)
        self.assertEqual([m["content"] for m in before["messages"]], ["see you at noon"])
        self.assertEqual(len(before["received"]), 1)
        self.assertIsNotNone(before["friendship"]["accepted_at"])

        file = self.backup(os.path.join(self.directory(), "tandem.dump"))
        self.assertEqual(os.stat(file).st_mode & 0o777, 0o600)
        dsn = self.node.db_dsn
        self.stop_node()
        db = query(dsn, "SELECT current_database()")
        admin = required_env("TANDEM_TEST_PG_DSN")
        psql(admin, f'DROP DATABASE "{db}"')
        psql(admin, f'CREATE DATABASE "{db}"')
        self.assertEqual(fingerprint(dsn), {})

        done = run_script("restore", dsn, file)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn(f"restored {file} into database {db}", done.stderr)
        self.start_node(TANDEM_DB_DSN=dsn)
        self.assertEqual(ann.login("not the password")[0], 401)
        for who in (ann, bob):
            status, body = who.login()
            self.assertEqual(status, 200, body)
        self.assertEqual(self.reads(ann, bob, cid), before)


class RestoreRefusals(BackupCase):
    """Each test: a database with an account, backed up; then a change the failed restore
    must not undo."""

    def setUp(self):
        super().setUp()
        Account(self, "Ann", "Archer")
        self.file = self.backup(os.path.join(self.directory(), "tandem.dump"))
        Account(self, "Cid", "Later")
        self.dsn = self.node.db_dsn

    def assert_refused(self, file, *phrases, flags=()):
        before = fingerprint(self.dsn)
        self.assert_failed(self.restore(file, *flags), *phrases, UNCHANGED)
        self.assertEqual(fingerprint(self.dsn), before)

    def test_a_missing_file_fails_clearly_and_changes_nothing(self):
        self.stop_node()
        missing = os.path.join(self.directory(), "nothing-here.dump")
        self.assert_refused(missing, f"{missing}: no such file")

    def test_a_file_that_is_no_dump_fails_clearly_and_changes_nothing(self):
        self.stop_node()
        with open(self.file, "wb") as f:
            f.write(os.urandom(4096))
        self.assert_refused(self.file, "is not a backup of scripts/backup")

    def test_a_dump_of_another_database_is_refused(self):
        self.stop_node()
        other = required_env("TANDEM_TEST_PG_DSN") + " dbname=postgres"
        foreign = os.path.join(self.directory(), "foreign.dump")
        done = run_script("backup", other, foreign)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assert_refused(foreign, "not of a Tandem database")

    def test_a_truncated_dump_is_rolled_back_whole(self):
        self.stop_node()
        # The last bytes are the end of the last table's data: the table of contents at
        # the start still reads, and the damage shows only in the middle of the restore.
        os.truncate(self.file, os.path.getsize(self.file) - 16)
        listed = subprocess.run(["pg_restore", "--list", self.file], capture_output=True)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assert_refused(self.file, "restoring", "failed")

    def test_a_running_node_is_refused(self):
        self.assert_refused(self.file, "stop the nodes first")

    def test_force_restores_past_a_session_that_is_not_a_node(self):
        self.stop_node()
        # An idle psql session: waits on its stdin while the restore runs.
        idle = subprocess.Popen(["psql", "-X", self.dsn], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(idle.wait, 10)
        self.addCleanup(idle.stdin.close)
        sessions = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
        self.node.wait_for(lambda: query(self.dsn, sessions) == "1")
        self.assert_refused(self.file, "1 other session(s)", "--force")
        done = self.restore(self.file, "--force")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(query(self.dsn, "SELECT string_agg(first_name, ',') FROM users"), "Ann")

    def test_tables_of_a_newer_schema_are_refused(self):
        self.stop_node()
        psql(self.dsn, "CREATE TABLE newer_feature (id int)")
        self.assert_refused(self.file, "has tables that", "(newer_feature)", "dropdb")


class BackupFailures(BackupCase):

    def test_a_failed_backup_leaves_no_file(self):
        directory = self.directory()
        file = os.path.join(directory, "tandem.dump")
        gone = required_env("TANDEM_TEST_PG_DSN") + " dbname=tandem_no_such_" + uuid.uuid4().hex
        self.assert_failed(run_script("backup", gone, file), f"{file} was not written")
        self.assertEqual(os.listdir(directory), [])

    def test_without_a_file_it_prints_its_usage(self):
        for script in ("backup", "restore"):
            done = run_script(script, self.node.db_dsn)
            self.assertEqual(done.returncode, 2, done.stderr)
            self.assertIn(f"scripts/{script} ", done.stderr)
