"""Running ocsp-responder as a service: --version, systemd notifications (READY, RELOADING, STOPPING)
on a real AF_UNIX datagram socket, /metrics accepted by `promtool check metrics`, JSON logs, the
serials of each index change in the log, and /health for GET and HEAD and for a database file that is
removed or replaced under the responder."""
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import RESPONDER, Index, Pki, ocsp_query, run  # noqa: E402
from ops_lib import Daemon, config_text, wait_for  # noqa: E402

PROMTOOL = shutil.which("promtool")


class Operations(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-ops-")
        cls.root = Path(cls.tmp.name)
        cls.pki = Pki(cls.root, "Operations CA")
        cls.leaf, _, cls.serial = cls.pki.issue("leaf.example")
        cls.other, _, cls.other_serial = cls.pki.issue("other.example")
        cls.db = cls.root / "index.db"
        cls.index = Index(cls.db)
        cls.index.add_pki(cls.pki)
        cls.issuer = {"name": "ops", "ca": str(cls.pki.ca_cert), "signer_key": str(cls.pki.ca_key)}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def workdir(self):
        return Path(tempfile.mkdtemp(dir=self.root))

    def start(self, database=None, **kw):
        env = kw.pop("env", None)
        d = Daemon(self.workdir(), config_text(database or self.db, [self.issuer], **kw), env=env)
        self.addCleanup(d.close)
        return d

    def query(self, d, serial):
        # Without a nonce, so that answers come from (and fill) the pre-signed cache.
        rc, out = ocsp_query(d.url, self.pki.ca_cert, serials=[serial], ca_file=self.pki.ca_cert, extra=["-no_nonce"])
        self.assertEqual(rc, 0, out)
        return out

    # --- command line ---

    def test_version_needs_no_config(self):
        r = run([RESPONDER, "--version"], check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^ocsp-responder \d+\.\d+\.\d+( \(.+\))?\n$")

    def test_bad_command_line_exits_2(self):
        r = run([RESPONDER, "--config"], check=False)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)

    # --- systemd ---

    def test_sd_notify_ready_reloading_stopping(self):
        sock_path = self.workdir() / "notify.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(str(sock_path))
        sock.settimeout(15)

        def next_message():
            return sock.recv(4096).decode()

        d = Daemon(self.workdir(), config_text(self.db, [self.issuer]), env={"NOTIFY_SOCKET": str(sock_path)},
                   wait_ready=False)
        self.addCleanup(d.close)
        ready = next_message()
        self.assertIn("READY=1", ready.splitlines())
        # READY=1 comes after the index is loaded and the sockets are bound: the port answers now.
        d.wait_ready(timeout=1)
        self.assertIn("good", self.query(d, self.serial))

        d.signal(signal.SIGHUP)
        reloading = next_message().splitlines()
        self.assertIn("RELOADING=1", reloading)
        usec = [line for line in reloading if line.startswith("MONOTONIC_USEC=")]
        self.assertEqual(len(usec), 1, reloading)
        self.assertGreater(int(usec[0].split("=", 1)[1]), 0)
        self.assertIn("READY=1", next_message().splitlines())

        # A failed reload keeps answering with the running set: ready again, with the reason in STATUS.
        d.config.write_text(d.config.read_text() + "\n[bogus]\n")
        d.signal(signal.SIGHUP)
        self.assertIn("RELOADING=1", next_message().splitlines())
        after_failure = next_message().splitlines()
        self.assertIn("READY=1", after_failure)
        self.assertTrue(any(line.startswith("STATUS=") and "reload failed" in line and "bogus" in line
                            for line in after_failure), after_failure)

        d.signal(signal.SIGTERM)
        self.assertIn("STOPPING=1", next_message().splitlines())
        self.assertEqual(d.proc.wait(timeout=10), 0)

    # --- metrics ---

    def test_metrics_pass_promtool_and_have_help_and_type(self):
        d = self.start()
        self.query(d, self.serial)
        self.query(d, self.serial)  # the second one is a cache hit
        run(["openssl", "ocsp", "-url", d.url, "-issuer", str(self.pki.ca_cert), "-serial", "0xDEAD", "-noverify"],
            check=False)
        status, headers, body = d.get("/metrics")
        self.assertEqual(status, 200)
        text = body.decode()

        families = {}
        for line in text.splitlines():
            m = re.match(r"# (HELP|TYPE) (\w+) (.+)", line)
            if m:
                families.setdefault(m.group(2), set()).add(m.group(1))
        samples = {re.match(r"([a-zA-Z_:][\w:]*)", line).group(1)
                   for line in text.splitlines() if line and not line.startswith("#")}
        for name in samples:
            family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in families else name
            self.assertEqual(families.get(family), {"HELP", "TYPE"}, f"{name}: HELP and TYPE expected")
        for name in ["ocsp_cache_hits_total", "ocsp_cache_misses_total", "ocsp_signer_seconds_to_expiry",
                     "ocsp_index_change_sequence", "ocsp_responses_total", "ocspkit_build_info"]:
            self.assertIn(name, families)
        self.assertRegex(text, r'ocspkit_build_info\{version="\d+\.\d+\.\d+"(,git="[^"]+")?\} 1\n')
        self.assertRegex(text, r'ocsp_signer_seconds_to_expiry\{issuer="ops"\} \d')
        self.assertRegex(text, r'ocsp_responses_total\{status="tryLater"\} 0\n')
        self.assertRegex(text, r"ocsp_cache_hits_total [1-9]")
        self.assertRegex(text, r'ocsp_request_duration_seconds_bucket\{le="\+Inf"\} [1-9]')

        if not PROMTOOL:
            self.skipTest("promtool not installed (Debian package prometheus)")
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout.decode() + check.stderr.decode() + "\n" + text)

    # --- logs ---

    def test_json_log_format_every_line_parses(self):
        d = self.start(log_format="json", access_log=True)
        self.query(d, self.serial)
        d.get("/health")
        d.signal(signal.SIGHUP)
        d.wait_for_log("reloaded")
        d.close()
        out, err = d.stdout(), d.stderr()
        self.assertTrue(out.strip(), "the access log wrote nothing")
        self.assertTrue(err.strip(), "the main log wrote nothing")
        records = []
        for stream, text in (("stdout", out), ("stderr", err)):
            for line in text.splitlines():
                try:
                    records.append(json.loads(line))
                except ValueError:
                    self.fail(f"{stream} line is not JSON: {line!r}")
        self.assertTrue(all({"time", "level", "logger", "message"} <= r.keys() for r in records))
        self.assertTrue(any(r["logger"] == "access" and "POST" in r["message"] for r in records))
        self.assertTrue(any(r["logger"] == "responder" and "listening" in r["message"] for r in records))

    def test_unknown_log_format_names_file_line_and_key(self):
        cfg = self.workdir() / "bad.toml"
        cfg.write_text(config_text(self.db, [self.issuer], log_format="xml"))
        r = run([RESPONDER, "--config", str(cfg), "--check-config"], check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{cfg}:10: key 'log.format': 'xml' is not one of: text, json", r.stderr)

    def test_index_changes_are_logged_with_their_serials(self):
        db = self.root / "changes.db"
        index = Index(db)
        index.add_pki(self.pki)
        d = self.start(database=db)
        index.ctl("revoke", self.serial, "--reason", "keyCompromise")
        line = d.wait_for_log(f"serial {self.serial} revoked (keyCompromise)")
        self.assertRegex(d.stderr(), rf"index change \d+: issuer \d+ serial {self.serial} revoked \(keyCompromise\)")
        self.assertTrue(line)

        # A bulk import lists the first 20 serials and counts the rest.
        rows = [f"V\t351231235959Z\t\t{0xA000 + i:X}\tunknown\t/CN=bulk{i}" for i in range(45)]
        bulk = self.root / "bulk-index.txt"
        bulk.write_text("\n".join(rows) + "\n")
        index.ctl("import-index", "--issuer", str(self.pki.ca_cert), str(bulk))
        d.wait_for_log("... and 25 more certificates")
        listed = re.findall(r"index change \d+: issuer \d+ serial (A0[0-9A-F]{2}) good", d.stderr())
        self.assertEqual(len(listed), 20, d.stderr())

    # --- /health ---

    def test_health_get_and_head_answer_alike(self):
        d = self.start()
        for path in ("/health", "/metrics"):
            get_status, get_headers, get_body = d.get(path)
            head_status, head_headers, head_body = d.get(path, method="HEAD")
            self.assertEqual(get_status, 200)
            self.assertEqual(head_status, get_status)
            self.assertEqual(head_body, b"")
            for h in ("Content-Type", "Cache-Control"):
                self.assertEqual(head_headers.get(h), get_headers.get(h), h)
            if path == "/health":  # /metrics changes between two requests; /health does not
                self.assertEqual(head_headers.get("Content-Length"), get_headers.get("Content-Length"))
                self.assertEqual(int(get_headers["Content-Length"]), len(get_body))

    def test_health_notices_a_removed_database(self):
        folder = self.workdir()
        db = folder / "index.db"
        index = Index(db)
        index.add_pki(self.pki)
        d = self.start(database=db)
        self.assertEqual(d.get("/health")[0], 200)
        moved = folder / "moved-away.db"
        os.rename(db, moved)
        status, _, body = wait_for(lambda: (r := d.get("/health"))[0] == 503 and r, what="/health 503")
        self.assertIn(f"database: FAIL index {db}: No such file or directory", body.decode())
        for method in ("GET", "HEAD"):
            self.assertEqual(d.get("/health", method=method)[0], 503)
        d.wait_for_log(f"index {db}: No such file or directory")
        # Still answering from the file it opened.
        self.assertIn("good", self.query(d, self.serial))
        os.rename(moved, db)
        wait_for(lambda: d.get("/health")[0] == 200, what="/health 200 once the file is back")

    def test_replaced_database_is_reported_then_reopened(self):
        folder = self.workdir()
        db = folder / "index.db"
        index = Index(db)
        index.add_pki(self.pki)
        d = self.start(database=db)
        self.assertIn("good", self.query(d, self.other_serial))

        # A file without our CA: unusable, so /health says why and the old file keeps answering.
        foreign = folder / "foreign.db"
        Index(foreign)
        os.replace(foreign, db)
        d.wait_for_log("was replaced")
        d.wait_for_log("the new file cannot be used")
        status, _, body = d.get("/health")
        self.assertEqual(status, 503)
        self.assertIn(f"index {db} was replaced", body.decode())
        self.assertEqual(d.get("/health", method="HEAD")[0], 503)
        self.assertIn("good", self.query(d, self.other_serial))

        # A good copy where `other` is revoked (made with the SQLite backup API, as a restore would): the
        # responder reopens it and answers from it.
        copy_src = folder / "source.db"
        Index(copy_src).add_pki(self.pki)
        run([os.environ.get("OCSPKIT_OCSPCTL", "ocspctl"), "revoke", self.other_serial, "--reason", "superseded",
             "--db", str(copy_src)])
        staged = folder / "staged.db"
        with sqlite3.connect(copy_src) as src, sqlite3.connect(staged) as dst:
            src.backup(dst)
        os.replace(staged, db)
        d.wait_for_log("reopened it at change sequence")
        wait_for(lambda: d.get("/health")[0] == 200, what="/health 200 after the reopen")
        wait_for(lambda: "revoked" in self.query(d, self.other_serial), what="the answer from the new file")


if __name__ == "__main__":
    unittest.main(verbosity=2)
