"""ocspctl as an operator runs it (issue 10): the cron re-import after `ocspctl revoke` and after a hold,
bulk revoke that changes nothing on a bad line, revoke by certificate file, backup while another process
writes, restore refused for a corrupt file, restore noticed by a running responder, the audit trail with
SUDO_USER, --json parsed by a JSON parser, global options before the command, init --owner, and messages
that name the path and the fix."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
import postgres_testlib  # noqa: E402
from ocspkit_testlib import OCSPCTL, Index, Pki, Responder, ocsp_query, responder_issuer, run  # noqa: E402


def ctl(db, *args, check=True, env=None, input=None):
    return run([OCSPCTL, *map(str, args), "--db", str(db)], check=check, env=env, input=input)


def add_pki(db, pki):
    """Creates the index at `db` (a path or a PostgreSQL string), registers pki's CA, imports its index.txt."""
    ctl(db, "init")
    ctl(db, "issuer", "add", pki.ca_cert)
    ctl(db, "import-index", "--issuer", pki.ca_cert, pki.index())


def status_of(db, serial):
    doc = json.loads(ctl(db, "show", serial, "--json").stdout)
    return doc["certificates"][0]["status"]


class ReimportKeepsIndexRevocations(unittest.TestCase):
    """The cron job `import-index` after changes made with ocspctl (docs/ocspctl.md "One source of truth")."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-ops-")
        self.root = Path(self.tmp.name)
        self.pki = Pki(self.root, "Ops CA")
        self.certs = {}
        for name in ("a", "b", "c"):
            cert, _key, serial = self.pki.issue(f"{name}.example")
            self.certs[name] = (cert, serial)
        self.db = self.new_database()
        add_pki(self.db, self.pki)

    def new_database(self):
        return self.root / "index.db"

    def tearDown(self):
        self.tmp.cleanup()

    def reimport(self, *extra):
        return ctl(self.db, "import-index", "--issuer", self.pki.ca_cert, self.pki.index(), *extra)

    def test_reimport_after_revoke_imports_new_certificates_and_keeps_the_revocation(self):
        serial_a = self.certs["a"][1]
        ctl(self.db, "revoke", serial_a, "--reason", "keyCompromise")
        _cert, _key, serial_d = self.pki.issue("d.example")  # the CA keeps issuing
        r = self.reimport()
        self.assertEqual(r.returncode, 0)
        index = self.pki.index()
        line = next(i for i, l in enumerate(index.read_text().splitlines(), 1) if f"\t{serial_a}\t" in l)
        self.assertIn(f"{index}:{line}: serial {serial_a} is revoked in the index (keyCompromise since ", r.stderr)
        self.assertIn("but good in the file; kept (a revocation other than certificateHold is never lifted",
                      r.stderr)
        self.assertIn("1 inserted, 0 updated, 2 unchanged, 0 skipped, 1 conflicts kept", r.stdout)
        self.assertEqual(status_of(self.db, serial_a), "revoked")
        self.assertEqual(status_of(self.db, serial_d), "good")
        # --force never lifts a permanent revocation.
        self.reimport("--force")
        self.assertEqual(status_of(self.db, serial_a), "revoked")

    def test_reimport_after_hold_keeps_it_unless_forced_and_takes_new_revocations(self):
        serial_b = self.certs["b"][1]
        serial_c = self.certs["c"][1]
        ctl(self.db, "revoke", serial_b, "--reason", "certificateHold")
        self.pki.revoke(self.certs["c"][0], "-crl_reason", "superseded")  # a new revocation in the file
        r = self.reimport("--skip-bad")  # --skip-bad used to lift the hold silently
        self.assertIn(f"serial {serial_b} is on hold in the index (certificateHold since ", r.stderr)
        self.assertIn("but good in the file; kept (pass --force to take the file's status)", r.stderr)
        self.assertEqual(status_of(self.db, serial_b), "hold")
        self.assertEqual(status_of(self.db, serial_c), "revoked")
        r = self.reimport("--force")
        self.assertIn("the file's status taken (--force)", r.stderr)
        self.assertEqual(status_of(self.db, serial_b), "good")

    def test_reimport_after_unrevoke_does_not_put_the_hold_back(self):
        cert_b, serial_b = self.certs["b"]
        self.pki.revoke(cert_b, "-crl_hold", "holdInstructionReject")
        self.reimport()
        self.assertEqual(status_of(self.db, serial_b), "hold")
        # The hold is lifted in the index at a later time than the file's hold time.
        ctl(self.db, "unrevoke", serial_b)
        r = self.reimport()
        self.assertIn(f"serial {serial_b} is good in the index (hold lifted at ", r.stderr)
        self.assertEqual(status_of(self.db, serial_b), "good")


class BulkAndCertificateRevoke(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-bulk-")
        cls.root = Path(cls.tmp.name)
        cls.pki = Pki(cls.root, "Bulk CA")
        cls.other = Pki(cls.root, "Stranger CA")
        cls.serials = [cls.pki.issue(f"bulk{i}.example")[2] for i in range(4)]
        cls.cert5, _, cls.serial5 = cls.pki.issue("bycert.example")  # not imported before revoke --cert
        cls.stranger, _, _ = cls.other.issue("stranger.example")
        cls.db = cls.new_database()
        ctl(cls.db, "init")
        ctl(cls.db, "issuer", "add", cls.pki.ca_cert)
        lines = cls.pki.index().read_text().splitlines()
        (cls.root / "first.txt").write_text("\n".join(l for l in lines if cls.serial5 not in l) + "\n")
        ctl(cls.db, "import-index", "--issuer", cls.pki.ca_cert, cls.root / "first.txt")

    @classmethod
    def new_database(cls):
        return cls.root / "index.db"

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_1_bad_line_changes_nothing_and_names_the_line(self):
        before = ctl(self.db, "list", "--json").stdout
        seq_before = ctl(self.db, "audit", "--json").stdout
        listing = self.root / "revoke.txt"
        listing.write_text(f"# compromised laptop batch\n{self.serials[0]}\n\nserial={self.serials[1]}\n"
                           f"ABCDEF99  # not ours\n{self.serials[2]}\n")
        r = ctl(self.db, "revoke", "--from", listing, "--reason", "keyCompromise", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{listing}:5: serial ABCDEF99 is not in the index", r.stderr)
        self.assertIn(f"{listing}: 1 bad of 4 lines; nothing revoked, database unchanged", r.stderr)
        self.assertEqual(ctl(self.db, "list", "--json").stdout, before)
        self.assertEqual(ctl(self.db, "audit", "--json").stdout, seq_before)

    def test_2_bulk_from_stdin_all_at_once(self):
        text = f"{self.serials[0]}\n{self.serials[1][:2]}:{self.serials[1][2:]}\n"
        r = ctl(self.db, "revoke", "--from", "-", "--reason", "superseded", input=text.encode())
        self.assertIn("(stdin): 2 certificates revoked", r.stdout)
        self.assertEqual(status_of(self.db, self.serials[0]), "revoked")
        self.assertEqual(status_of(self.db, self.serials[1]), "revoked")
        # Already revoked now: a second run refuses and names the line.
        r = ctl(self.db, "revoke", "--from", "-", "--reason", "superseded", input=text.encode(), check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"(stdin):1: serial {self.serials[0]} is already revoked", r.stderr)

    def test_3_revoke_by_certificate_file(self):
        r = ctl(self.db, "revoke", "--cert", self.stranger, "--reason", "keyCompromise", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{self.stranger}: certificate ", r.stderr)
        self.assertIn("was not issued by a registered CA (checked by signature)", r.stderr)
        r = ctl(self.db, "revoke", "--cert", self.cert5, "--reason", "cessationOfOperation")
        self.assertIn(f"serial {self.serial5} of issuer 1", r.stdout)
        shown = json.loads(ctl(self.db, "show", self.serial5, "--json").stdout)["certificates"][0]
        self.assertEqual((shown["status"], shown["reason"], shown["certificate_stored"]),
                         ("revoked", "cessationOfOperation", True))

    def test_4_serial_forms_and_decimal_hint(self):
        serial = self.serials[3]
        decimal = str(int(serial, 16))
        for form in (serial, f"serial={serial}", ":".join(serial[i:i + 2] for i in range(0, len(serial), 2)),
                     "0x" + serial.lower()):
            self.assertEqual(status_of(self.db, form), "good", form)
        self.assertEqual(json.loads(ctl(self.db, "show", decimal, "--decimal", "--json").stdout)
                         ["certificates"][0]["serial"], serial)
        r = ctl(self.db, "show", "4096", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "ocspctl: serial 4096 is not in the index; serials are hexadecimal: if 4096 is "
                                   "decimal, it is 1000 in hex (did you mean --decimal?)\n")


@unittest.skipUnless(postgres_testlib.available(), "PostgreSQL is not installed")
class ReimportKeepsIndexRevocationsOnPostgres(ReimportKeepsIndexRevocations):
    def new_database(self):
        return postgres_testlib.fresh_database("reimport")


@unittest.skipUnless(postgres_testlib.available(), "PostgreSQL is not installed")
class BulkAndCertificateRevokeOnPostgres(BulkAndCertificateRevoke):
    @classmethod
    def new_database(cls):
        return postgres_testlib.fresh_database("bulk")


@unittest.skipUnless(postgres_testlib.available(), "PostgreSQL is not installed")
class OperationsOnPostgres(unittest.TestCase):
    """What differs on PostgreSQL: backups are pg_dump's, writers run at once, OCSPKIT_DB, the audit."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-pgops-")
        self.root = Path(self.tmp.name)
        self.pki = Pki(self.root, "Pg Ops CA")
        self.serials = [self.pki.issue(f"p{i}.example")[2] for i in range(3)]
        self.server = postgres_testlib.shared_server()
        self.db = postgres_testlib.fresh_database("ops")
        add_pki(self.db, self.pki)

    def tearDown(self):
        self.tmp.cleanup()

    def test_backup_is_pg_dump_and_restore_is_pg_restore(self):
        ctl(self.db, "revoke", self.serials[0], "--reason", "keyCompromise")
        r = ctl(self.db, "backup", self.root / "copy.db", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("backup works on a SQLite file", r.stderr)
        self.assertIn("pg_dump -Fc -f FILE DBNAME", r.stderr)
        self.assertFalse((self.root / "copy.db").exists())
        r = ctl(self.db, "restore", self.root / "copy.db", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("pg_restore", r.stderr)

        # What docs/operations.md says to do instead, end to end.
        dump = self.root / "index.dump"
        run([str(self.server.bin / "pg_dump"), "-Fc", "-f", str(dump), "-d", self.db])
        restored = postgres_testlib.fresh_database("restored")
        run([str(self.server.bin / "pg_restore"), "--no-owner", "-d", restored, str(dump)])
        for command in (["list"], ["audit"], ["issuer", "list"]):
            self.assertEqual(ctl(restored, *command).stdout, ctl(self.db, *command).stdout, command)
        ctl(restored, "revoke", self.serials[1], "--reason", "superseded")  # the copy takes writes
        self.assertEqual(status_of(restored, self.serials[1]), "revoked")

    def test_two_writers_at_once_lose_nothing(self):
        # Two processes import disjoint files (one transaction each) while revokes run in this one.
        files = []
        for k in range(2):
            text = "".join(f"V\t301231235959Z\t\t{0x800000 + 1000 * k + i:X}\tunknown\t/CN=w{k}-{i}\n"
                           for i in range(300))
            files.append(self.root / f"w{k}.txt")
            files[-1].write_text(text)
        before = int(self.server.psql("SELECT value FROM change_counter", self.db))
        writers = [subprocess.Popen([OCSPCTL, "import-index", "--issuer", "1", str(f), "--db", self.db],
                                    stdout=subprocess.DEVNULL) for f in files]
        for s in self.serials:
            ctl(self.db, "revoke", s, "--reason", "keyCompromise")
        self.assertEqual([w.wait(timeout=120) for w in writers], [0, 0])
        rows = json.loads(ctl(self.db, "list", "--json").stdout)["certificates"]
        self.assertEqual(len(rows), len(self.serials) + 600)
        # Five transactions, five consecutive change numbers: none lost, none shared.
        seqs = self.server.psql("SELECT DISTINCT change_seq FROM certificates WHERE change_seq > "
                                f"{before} ORDER BY 1", self.db).split()
        self.assertEqual([int(x) for x in seqs], list(range(before + 1, before + 6)))

    def test_environment_sudo_user_and_no_password_anywhere(self):
        env = dict(os.environ, OCSPKIT_DB=self.db + " password=secret123", SUDO_USER="alice")
        r = run([OCSPCTL, "revoke", self.serials[2], "--reason", "superseded"], env=env)
        self.assertNotIn("secret123", r.stdout + r.stderr)
        audit = json.loads(run([OCSPCTL, "audit", "--json", "--serial", self.serials[2]], env=env).stdout)
        last = audit["entries"][-1]
        self.assertEqual((last["sudo_user"], last["command"], last["new_status"]), ("alice", "revoke", "revoked"))
        bad = dict(env, OCSPKIT_DB=self.server.conninfo("nope") + " password=secret123")
        r = run([OCSPCTL, "list"], env=bad, check=False)
        self.assertEqual(r.returncode, 3)
        self.assertNotIn("secret123", r.stdout + r.stderr)
        self.assertIn("password=***", r.stderr)


class BackupRestoreAudit(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-backup-")
        self.root = Path(self.tmp.name)
        self.pki = Pki(self.root, "Backup CA")
        self.serials = [self.pki.issue(f"b{i}.example")[2] for i in range(3)]
        self.db = self.root / "index.db"
        Index(self.db).add_pki(self.pki)

    def tearDown(self):
        self.tmp.cleanup()

    def test_backup_under_concurrent_writes_then_restore_into_a_fresh_path(self):
        for s in self.serials:
            ctl(self.db, "revoke", s, "--reason", "keyCompromise")
        # Another process writes meanwhile: a shell loop of `ocspctl import-index` with growing files.
        writer_dir = self.root / "writer"
        writer_dir.mkdir()
        lines = []
        for i in range(400):
            lines.append(f"V\t301231235959Z\t\t{0x700000 + i:X}\tunknown\t/CN=w{i}\n")
        for k in range(1, 41):
            (writer_dir / f"{k:03}.txt").write_text("".join(lines[:k * 10]))
        script = (f'for f in "{writer_dir}"/*.txt; do "{OCSPCTL}" import-index --issuer 1 "$f" --db "{self.db}" '
                  f'>/dev/null || exit 1; echo x >> "{writer_dir}/done"; done')
        writer = subprocess.Popen(["sh", "-c", script])
        try:
            deadline = time.monotonic() + 30
            while not (writer_dir / "done").exists():  # the writer is running
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.01)
            backup = self.root / "backup.db"
            r = ctl(self.db, "backup", backup)
            self.assertIn(f"{backup}: backup of {self.db} at change sequence ", r.stdout)
        finally:
            self.assertEqual(writer.wait(timeout=120), 0)
        self.assertFalse(Path(str(backup) + "-wal").exists())
        r = ctl(self.db, "backup", backup, check=False)
        self.assertEqual((r.returncode, r.stderr), (1, f"ocspctl: {backup}: exists; pass --force to replace it\n"))

        fresh = self.root / "restored" / "index.db"
        fresh.parent.mkdir()
        ctl(fresh, "restore", backup)
        listing = json.loads(ctl(fresh, "list", "--status", "revoked", "--json").stdout)["certificates"]
        self.assertEqual(sorted(c["serial"] for c in listing), sorted(self.serials))
        # The copy is one snapshot: the writer's rows it holds are a prefix of what the writer wrote.
        written = {c["serial"] for c in json.loads(ctl(fresh, "list", "--json").stdout)["certificates"]} - set(self.serials)
        self.assertEqual(written, {f"{0x700000 + i:X}" for i in range(len(written))})

    def test_corrupt_or_foreign_restore_is_refused_and_changes_nothing(self):
        before = ctl(self.db, "list").stdout, ctl(self.db, "audit").stdout
        junk = self.root / "junk.db"
        junk.write_bytes(b"SQLite format 3\0" + os.urandom(8000))
        r = ctl(self.db, "restore", junk, check=False)
        self.assertEqual(r.returncode, 3)
        self.assertIn(str(junk), r.stderr)
        self.assertIn("refused, the database was not changed", r.stderr)
        foreign = self.root / "foreign.db"
        with sqlite3.connect(foreign) as conn:
            conn.execute("CREATE TABLE t (x)")
        conn.close()
        r = ctl(self.db, "restore", foreign, check=False)
        self.assertEqual(r.returncode, 3)
        self.assertIn(f"{foreign}: not an ocspkit database", r.stderr)
        self.assertEqual((ctl(self.db, "list").stdout, ctl(self.db, "audit").stdout), before)

    def test_restore_is_noticed_by_a_running_responder(self):
        backup = self.root / "before-revocation.db"
        ctl(self.db, "backup", backup)
        target = self.serials[0]
        ctl(self.db, "revoke", target, "--reason", "keyCompromise")
        _c, _k, late = self.pki.issue("late.example")
        ctl(self.db, "import-index", "--issuer", "1", self.pki.index())
        resp = Responder(self.root, self.db, [responder_issuer(self.pki, "Backup CA")])
        try:
            _rc, text = ocsp_query(resp.url, self.pki.ca_cert, serials=[target, late])
            self.assertIn(f"0x{target}: revoked", text)
            self.assertIn(f"0x{late}: good", text)
            r = ctl(self.db, "restore", backup)
            self.assertIn(f"note: serial {target} is revoked or on hold in {self.db} but not in the backup; "
                          "its revocation is kept", r.stderr)
            resp.wait_for_index_changes()
            _rc, text = ocsp_query(resp.url, self.pki.ca_cert, serials=[target, late])
            self.assertIn(f"0x{late}: unknown", text)  # older state, restored on purpose ...
            self.assertIn(f"0x{target}: revoked", text)  # ... but a revocation is never undone
        finally:
            resp.close()
        rows = json.loads(ctl(self.db, "audit", "--serial", target, "--json").stdout)["entries"]
        self.assertEqual([(e["command"], e["old_status"], e["new_status"]) for e in rows][-1],
                         ("revoke", "good", "revoked"))
        # A backup of another index (other issuers) would drop this revocation: refused, nothing changed.
        other = self.root / "other"
        other.mkdir()
        other_pki = Pki(other, "Other CA")
        other_db = other / "index.db"
        ctl(other_db, "init")
        ctl(other_db, "issuer", "add", other_pki.ca_cert)
        ctl(other_db, "backup", other / "other-backup.db")
        r = ctl(self.db, "restore", other / "other-backup.db", check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("a restore never drops a revocation", r.stderr)
        self.assertEqual(json.loads(ctl(self.db, "show", target, "--json").stdout)["certificates"][0]["status"],
                         "revoked")

    def test_audit_records_user_and_sudo_user_as_json(self):
        env = dict(os.environ, SUDO_USER="alice")
        ctl(self.db, "revoke", self.serials[1], "--reason", "certificateHold", env=env)
        ctl(self.db, "unrevoke", self.serials[1], env=env)
        doc = json.loads(ctl(self.db, "audit", "--serial", self.serials[1], "--json").stdout)
        entries = doc["entries"]
        # A certificate imported as good is counted in the import's summary row, not a row of its own.
        self.assertEqual([(e["command"], e["old_status"], e["new_status"]) for e in entries],
                         [("revoke", "good", "hold"), ("unrevoke", "hold", "good")])
        me = run(["id", "-un"]).stdout.strip()
        self.assertEqual((entries[0]["unix_user"], entries[0]["sudo_user"]), (me, "alice"))
        self.assertRegex(entries[0]["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(entries[0]["detail"], "reason certificateHold")
        full = json.loads(ctl(self.db, "audit", "--json").stdout)["entries"]
        self.assertEqual(full[0]["detail"], "schema created at version 4")
        self.assertEqual(full[1]["detail"], "issuer added: CN=Backup CA,O=ocspkit tests")
        self.assertEqual((full[2]["command"], full[2]["sudo_user"]), ("import-index", None))
        self.assertEqual(full[2]["detail"], f"{self.pki.index()}: 3 lines: 3 inserted, 0 updated, 0 unchanged, "
                                            "0 skipped, 0 conflicts kept")
        # Other SQLite clients cannot rewrite history.
        with self.assertRaisesRegex(sqlite3.DatabaseError, "append-only"):
            with sqlite3.connect(self.db) as conn:
                conn.execute("DELETE FROM audit")


class CliConventions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-cli-")
        cls.root = Path(cls.tmp.name)
        cls.pki = Pki(cls.root, "Cli CA")
        cls.serial = cls.pki.issue("cli.example")[2]
        cls.db = cls.root / "index.db"
        Index(cls.db).add_pki(cls.pki)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_version_and_global_options_before_the_command(self):
        r = run([OCSPCTL, "--version"])
        self.assertRegex(r.stdout, r"^ocspctl \d+\.\d+\.\d+")
        before = run([OCSPCTL, "--db", str(self.db), "list"]).stdout
        self.assertEqual(before, run([OCSPCTL, "list", "--db", str(self.db)]).stdout)
        self.assertIn(self.serial, before)
        env = dict(os.environ, OCSPKIT_DB=str(self.db))
        self.assertEqual(run([OCSPCTL, "list"], env=env).stdout, before)
        self.assertIn("Global options (before or after the command)", run([OCSPCTL, "--help"]).stdout)

    def test_man_page_documents_every_command_and_exit_status(self):
        import re
        man = (Path(os.environ["OCSPKIT_SOURCE_DIR"]) / "docs" / "man" / "ocspctl.1").read_text()
        help_text = run([OCSPCTL, "--help"]).stdout
        commands = re.findall(r"^  (\S+)\s", help_text.split("Subcommands:")[1], re.M)
        self.assertIn("backup", commands)
        for command in commands:
            self.assertIn(f".B ocspctl {command.replace('-', chr(92) + '-')}", man, command)
        for option in ("--json", "--decimal", "--force", "--owner", "--from", "--cert", "--since"):
            self.assertIn(option.replace("-", "\\-"), man, option)
        for code in ("0", "1", "2", "3"):
            self.assertIn(f".TP\n.B {code}\n", man)

    def test_json_outputs_parse(self):
        listing = json.loads(run([OCSPCTL, "--db", str(self.db), "list", "--json"]).stdout)
        cert = listing["certificates"][0]
        self.assertEqual(cert["serial"], self.serial)
        self.assertEqual(cert["status"], "good")
        self.assertIsNone(cert["revocation_time"])
        self.assertRegex(cert["not_after"], r"Z$")
        issuers = json.loads(run([OCSPCTL, "--db", str(self.db), "issuer", "list", "--json"]).stdout)["issuers"]
        self.assertEqual((issuers[0]["id"], issuers[0]["enabled"], issuers[0]["certificates"]), (1, True, 1))
        audit = json.loads(run([OCSPCTL, "--db", str(self.db), "audit", "--json"]).stdout)
        self.assertGreaterEqual(len(audit["entries"]), 3)

    def test_init_owner_and_missing_folder(self):
        missing = self.root / "nope" / "index.db"
        r = run([OCSPCTL, "init", "--db", str(missing)], check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"folder {missing.parent} does not exist; create it with `install -d -o ocspkit -g ocspkit "
                      f"-m 0750 {missing.parent}`", r.stderr)
        if os.geteuid() != 0:
            self.skipTest("chown needs root")
        folder = self.root / "state"
        folder.mkdir()
        db = folder / "index.db"
        run([OCSPCTL, "init", "--db", str(db), "--owner", "nobody", "--group", "nogroup"])
        st = db.stat()
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777), (65534, 65534, 0o640))
        r = run([OCSPCTL, "init", "--db", str(db), "--owner", "no-such-user-ocspkit"], check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--owner no-such-user-ocspkit: no such user", r.stderr)

    def test_messages_for_an_unprivileged_user_name_owner_and_fix(self):
        if os.geteuid() != 0 or shutil.which("setpriv") is None:
            self.skipTest("needs root and setpriv to run as nobody")
        folder = self.root / "perm"
        folder.mkdir(mode=0o755)
        db = folder / "index.db"
        run([OCSPCTL, "init", "--db", str(db)])
        os.chmod(db, 0o644)
        for side in ("-wal", "-shm"):
            Path(str(db) + side).unlink(missing_ok=True)
        as_nobody = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", OCSPCTL]
        # The temp root is 0700: the folder exists but nobody cannot reach it, which is not "missing".
        os.chmod(self.root, 0o700)
        r = run(as_nobody + ["list", "--db", str(db)], check=False)
        self.assertEqual(r.returncode, 3)
        self.assertIn(f"{db}: cannot read {self.root} (owned by root:root, mode 0700)", r.stderr)
        os.chmod(self.root, 0o755)
        r = run(as_nobody + ["revoke", self.serial, "--reason", "superseded", "--db", str(db)], check=False)
        self.assertEqual(r.returncode, 3)
        self.assertEqual(r.stderr, f"ocspctl: cannot write {db} (owned by root, mode 0644): run ocspctl as root or "
                                   "as root, e.g. sudo -u root ocspctl ...\n")
        os.chmod(db, 0o600)
        r = run(as_nobody + ["list", "--db", str(db)], check=False)
        self.assertEqual(r.returncode, 3)
        self.assertIn(f"cannot read {db} (owned by root:root, mode 0600)", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
