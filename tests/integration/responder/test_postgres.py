"""ocsp-responder on a PostgreSQL index: every status over GET and POST, nonces, revocations within a
second; three replicas on one index (one on a streaming hot standby) answering alike, a replica killed
under load without a failed request for a client that retries on another; and a database outage:
cached answers go on being served, misses get tryLater, /health says degraded, and after the server is
back the responder catches up on the revocations made meanwhile on the primary.

Everything runs on loopback and unix sockets in temp folders: the PostgreSQL servers are made by
postgres_testlib (initdb, pg_ctl, pg_basebackup -R), the PKI by the openssl CLI."""
import http.client
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
import postgres_testlib  # noqa: E402
from ocspkit_testlib import (OCSPCTL, Pki, Responder, b64_forms, make_request_der, ocsp_query,  # noqa: E402
                             response_text, run)

# A revocation must reach every responder within this (the issue's promise); the change poll is 100 ms.
FRESHNESS_SECONDS = 1.0


def ctl(database, *args, check=True):
    return run([OCSPCTL, *args, "--db", database], check=check)


def ocsp_status(der):
    """OCSPResponseStatus of a DER OCSPResponse: the ENUMERATED right after the outer SEQUENCE header."""
    if len(der) < 5 or der[0] != 0x30:
        return None
    header = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)
    if der[header:header + 2] != b"\x0a\x01":
        return None
    return der[header + 2]


def get(url, path, timeout=5):
    with urllib.request.urlopen(f"{url}{path}", timeout=timeout) as r:
        return r.status, r.read()


def cert_state(url, issuer, serial):
    """'good', 'revoked' or 'unknown' as openssl ocsp reports it for one serial (POST with a nonce)."""
    rc, out = ocsp_query(url, issuer, serials=[serial])
    for state in ("good", "revoked", "unknown"):
        if f": {state}" in out:
            return state
    raise AssertionError(f"openssl ocsp ({rc}) gave no status:\n{out}")


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout} s")
        time.sleep(0.02)


def health(url):
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class PostgresIndex(unittest.TestCase):
    """One primary for the answers and the replicas."""

    @classmethod
    def setUpClass(cls):
        if not postgres_testlib.available():
            raise unittest.SkipTest("PostgreSQL is not installed")
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-pgresp-")
        cls.root = Path(cls.tmp.name)
        cls.pg = postgres_testlib.PostgresServer()
        cls.db = cls.pg.create_database("ocspkit")
        cls.pki = Pki(cls.root, "PG CA")
        cls.good, _, cls.good_serial = cls.pki.issue("good.example")
        cls.revoked, _, cls.revoked_serial = cls.pki.issue("revoked.example")
        cls.held, _, cls.held_serial = cls.pki.issue("held.example")
        cls.pki.revoke(cls.revoked, "-crl_reason", "keyCompromise")
        cls.pki.revoke(cls.held, "-crl_reason", "certificateHold")
        ctl(cls.db, "init")
        ctl(cls.db, "issuer", "add", str(cls.pki.ca_cert))
        ctl(cls.db, "import-index", "--issuer", str(cls.pki.ca_cert), str(cls.pki.index()))

    @classmethod
    def tearDownClass(cls):
        cls.pg.close()
        cls.tmp.cleanup()

    def start(self, database=None, **kw):
        workdir = Path(tempfile.mkdtemp(dir=self.root))
        issuer = {"name": "pg", "ca": str(self.pki.ca_cert), "signer_key": str(self.pki.ca_key)}
        r = Responder(workdir, database or self.db, [issuer], log_level="info", **kw)
        self.addCleanup(r.close)
        return r

    def test_every_status_over_post_and_get_with_and_without_nonce(self):
        r = self.start()
        self.assertEqual(cert_state(r.url, self.pki.ca_cert, self.good_serial), "good")
        rc, out = ocsp_query(r.url, self.pki.ca_cert, serials=[self.revoked_serial])
        self.assertIn(": revoked", out)
        self.assertIn("Reason: keyCompromise", out)
        rc, out = ocsp_query(r.url, self.pki.ca_cert, serials=[self.held_serial])
        self.assertIn("Reason: certificateHold", out)
        self.assertEqual(cert_state(r.url, self.pki.ca_cert, "0DDBA11"), "unknown")
        rc, out = ocsp_query(r.url, self.pki.ca_cert, serials=[self.good_serial], digest="sha256")
        self.assertIn(": good", out)
        # RFC 5019 GET, no nonce, SHA-1 and SHA-256 CertIDs; the nonce echoed over POST.
        for digest in ("sha1", "sha256"):
            der = make_request_der(self.pki.ca_cert, [self.revoked_serial], digest=digest, workdir=r.workdir)
            _, path = b64_forms(der)[0]
            status, body = get(r.url, "/" + path)
            self.assertEqual(status, 200)
            text = response_text(body, r.workdir)
            self.assertIn("Cert Status: revoked", text)
            self.assertIn("keyCompromise", text)
        rc, out = ocsp_query(r.url, self.pki.ca_cert, serials=[self.good_serial], ca_file=self.pki.ca_cert)
        self.assertEqual(rc, 0, out)
        self.assertIn("Response verify OK", out)
        self.assertNotIn("WARNING: no nonce", out)
        status, text = health(r.url)
        self.assertEqual(status, 200, text)
        self.assertIn("database: ok", text)
        self.assertEqual(r.metric("ocsp_index_database_up"), 1)

    def test_a_revocation_is_served_within_a_second(self):
        cert, _, serial = self.pki.issue("fresh.example")
        ctl(self.db, "import-index", "--issuer", str(self.pki.ca_cert), str(self.pki.index()))
        r = self.start()
        der = make_request_der(self.pki.ca_cert, [serial], workdir=r.workdir)
        path = "/" + b64_forms(der)[0][1]
        self.assertIn("Cert Status: good", response_text(get(r.url, path)[1], r.workdir))
        started = time.monotonic()
        ctl(self.db, "revoke", serial, "--reason", "keyCompromise")
        wait_until(lambda: "Cert Status: revoked" in response_text(get(r.url, path)[1], r.workdir),
                   FRESHNESS_SECONDS, "the cached GET answer did not turn revoked")
        self.assertLess(time.monotonic() - started, FRESHNESS_SECONDS + 1)

    def test_a_password_in_the_database_string_is_never_logged(self):
        r = self.start(database=self.db + " password=s3cret-pw")
        self.assertEqual(cert_state(r.url, self.pki.ca_cert, self.good_serial), "good")
        self.assertNotIn("s3cret-pw", health_text_or_empty(r))
        r.close()
        self.assertNotIn("s3cret-pw", (r.workdir / "responder.log").read_text(errors="replace"))

    def test_a_role_that_may_only_select_is_enough_for_a_responder(self):
        # deploy/scale-out/postgresql.md gives responders such a role.
        self.pg.psql("CREATE ROLE ocspkit_read LOGIN")
        self.pg.psql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO ocspkit_read", database="ocspkit")
        r = self.start(database=self.db.replace("user=ocspkit ", "user=ocspkit_read "))
        self.assertIn("user=ocspkit_read", r.config.read_text())
        self.assertEqual(cert_state(r.url, self.pki.ca_cert, self.good_serial), "good")
        rc, out = ocsp_query(r.url, self.pki.ca_cert, serials=[self.revoked_serial])
        self.assertIn(": revoked", out)

    def test_a_database_without_the_schema_is_refused_at_start_up_naming_the_fix(self):
        empty = self.pg.create_database("empty")
        cfg = self.root / "empty.toml"
        cfg.write_text(f'database = "{empty}"\n[[issuer]]\nca = "{self.pki.ca_cert}"\n'
                       f'signer_key = "{self.pki.ca_key}"\n')
        from ocspkit_testlib import RESPONDER
        out = run([RESPONDER, "--config", str(cfg), "--check-config"], check=False)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("ocspctl init", out.stdout + out.stderr)


def health_text_or_empty(responder):
    try:
        return health(responder.url)[1]
    except OSError:
        return ""


class Replicas(unittest.TestCase):
    """Three responders on one index: two on the primary, one on a hot standby."""

    @classmethod
    def setUpClass(cls):
        if not postgres_testlib.available():
            raise unittest.SkipTest("PostgreSQL is not installed")
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-pgrepl-")
        cls.root = Path(cls.tmp.name)
        cls.pg = postgres_testlib.PostgresServer()
        cls.db = cls.pg.create_database("ocspkit")
        cls.pki = Pki(cls.root, "Replica CA")
        cls.serials = [cls.pki.issue(f"r{i}.example")[2] for i in range(4)]
        ctl(cls.db, "init")
        ctl(cls.db, "issuer", "add", str(cls.pki.ca_cert))
        ctl(cls.db, "import-index", "--issuer", str(cls.pki.ca_cert), str(cls.pki.index()))
        cls.standby = cls.pg.make_standby()
        cls.standby.wait_for_replay(cls.pg)
        cls.standby_db = cls.standby.conninfo("ocspkit")
        issuer = {"name": "replica", "ca": str(cls.pki.ca_cert), "signer_key": str(cls.pki.ca_key)}
        cls.replicas = []
        for database in (cls.db, cls.db, cls.standby_db):
            workdir = Path(tempfile.mkdtemp(dir=cls.root))
            cls.replicas.append(Responder(workdir, database, [issuer], log_level="info"))

    @classmethod
    def tearDownClass(cls):
        for r in cls.replicas:
            r.close()
        cls.pg.close()
        cls.tmp.cleanup()

    def path_for(self, serial):
        der = make_request_der(self.pki.ca_cert, [serial], workdir=self.root)
        return "/" + b64_forms(der)[0][1]

    def answers(self, path):
        return [response_text(get(r.url, path)[1], self.root) for r in self.replicas]

    def test_all_replicas_answer_alike_and_a_revocation_reaches_all_within_a_second(self):
        path = self.path_for(self.serials[0])
        for text in self.answers(path):
            self.assertIn("Cert Status: good", text)
        started = time.monotonic()
        ctl(self.db, "revoke", self.serials[0], "--reason", "keyCompromise", "--time", "@1780000000")
        wait_until(lambda: all("Cert Status: revoked" in t for t in self.answers(path)), FRESHNESS_SECONDS,
                   "not every replica (one on the standby) served the revocation")
        self.assertLess(time.monotonic() - started, FRESHNESS_SECONDS + 1)
        # The same revocation details everywhere.
        details = set()
        for text in self.answers(path):
            lines = [ln.strip() for ln in text.splitlines() if "Revocation" in ln or "Reason" in ln]
            details.add(tuple(lines))
        self.assertEqual(len(details), 1, details)
        self.assertIn("keyCompromise", str(details))

    def test_killing_a_replica_under_load_fails_no_request_for_a_retrying_client(self):
        # Its own replica to kill, so that the other test keeps its three.
        workdir = Path(tempfile.mkdtemp(dir=self.root))
        issuer = {"name": "replica", "ca": str(self.pki.ca_cert), "signer_key": str(self.pki.ca_key)}
        victim = Responder(workdir, self.db, [issuer], log_level="info")
        self.addCleanup(victim.close)
        pool = [victim] + self.replicas[1:]
        paths = [self.path_for(s) for s in self.serials[1:]]
        failures, answered, after_kill = [], [0], [0]
        killed = threading.Event()
        stop = threading.Event()

        def client(offset):
            i = offset
            while not stop.is_set():
                path = paths[i % len(paths)]
                for attempt in range(len(pool)):
                    replica = pool[(i + attempt) % len(pool)]
                    try:
                        conn = http.client.HTTPConnection("127.0.0.1", replica.port, timeout=5)
                        conn.request("GET", path)
                        resp = conn.getresponse()
                        body = resp.read()
                        conn.close()
                        if resp.status == 200 and ocsp_status(body) == 0:
                            answered[0] += 1
                            if killed.is_set():
                                after_kill[0] += 1
                            break
                    except OSError:
                        continue
                else:
                    failures.append(path)
                i += 1

        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: answered[0] >= 200, 30, "the load did not get going")
            victim.proc.kill()
            victim.proc.wait()
            killed.set()
            wait_until(lambda: after_kill[0] >= 500, 60, "the other replicas did not go on answering")
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(failures, [], "requests failed on every replica")


class Outage(unittest.TestCase):
    """A responder on a standby that stops and starts again, while the primary takes revocations."""

    @classmethod
    def setUpClass(cls):
        if not postgres_testlib.available():
            raise unittest.SkipTest("PostgreSQL is not installed")
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-pgout-")
        cls.root = Path(cls.tmp.name)
        cls.pg = postgres_testlib.PostgresServer()
        cls.db = cls.pg.create_database("ocspkit")
        cls.pki = Pki(cls.root, "Outage CA")
        cls.cached_serial = cls.pki.issue("cached.example")[2]
        cls.uncached_serial = cls.pki.issue("uncached.example")[2]
        ctl(cls.db, "init")
        ctl(cls.db, "issuer", "add", str(cls.pki.ca_cert))
        ctl(cls.db, "import-index", "--issuer", str(cls.pki.ca_cert), str(cls.pki.index()))
        cls.standby = cls.pg.make_standby()
        cls.standby.wait_for_replay(cls.pg)

    @classmethod
    def tearDownClass(cls):
        cls.pg.close()
        cls.tmp.cleanup()

    def test_cached_answers_survive_an_outage_and_missed_revocations_are_caught_up(self):
        workdir = Path(tempfile.mkdtemp(dir=self.root))
        issuer = {"name": "outage", "ca": str(self.pki.ca_cert), "signer_key": str(self.pki.ca_key)}
        r = Responder(workdir, self.standby.conninfo("ocspkit"), [issuer], log_level="info")
        self.addCleanup(r.close)
        cached = "/" + b64_forms(make_request_der(self.pki.ca_cert, [self.cached_serial], workdir=workdir))[0][1]
        uncached = "/" + b64_forms(make_request_der(self.pki.ca_cert, [self.uncached_serial], workdir=workdir))[0][1]
        self.assertIn("Cert Status: good", response_text(get(r.url, cached)[1], workdir))

        self.standby.stop()
        wait_until(lambda: r.metric("ocsp_index_database_up") == 0, 10, "the responder did not notice the outage")
        status, body = get(r.url, cached)
        self.assertEqual(ocsp_status(body), 0, "a cached answer was not served during the outage")
        self.assertIn("Cert Status: good", response_text(body, workdir))
        status, body = get(r.url, uncached)
        self.assertEqual(ocsp_status(body), 3, "a miss during the outage was not answered tryLater")
        code, text = health(r.url)
        self.assertEqual(code, 200, text)
        self.assertIn("DEGRADED", text)
        self.assertIn("unreachable", r.log_text())

        # Revoked on the primary while this responder cannot see it.
        ctl(self.db, "revoke", self.cached_serial, "--reason", "keyCompromise")
        reconnects = r.metric("ocsp_index_database_reconnects_total")
        self.standby.start()
        self.standby.wait_for_replay(self.pg)
        wait_until(lambda: r.metric("ocsp_index_database_reconnects_total") > reconnects, 15,
                   "the responder did not reconnect")
        wait_until(lambda: "Cert Status: revoked" in response_text(get(r.url, cached)[1], workdir), 5,
                   "the revocation made during the outage was not served after it")
        self.assertEqual(ocsp_status(get(r.url, uncached)[1]), 0)
        code, text = health(r.url)
        self.assertEqual(code, 200, text)
        self.assertIn("database: ok", text)
        self.assertEqual(r.metric("ocsp_index_database_up"), 1)
        self.assertIn("reachable again", r.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
