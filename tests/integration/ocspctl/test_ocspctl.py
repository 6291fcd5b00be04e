"""ocspctl against a real `openssl ca`: every revocation form it writes is imported, shown, listed,
re-imported without duplicates and exported to an index.txt that `openssl ocsp -index` answers from
with the same statuses as from the original. Then the exit statuses and messages of the failure cases."""
import re
import shutil
import sqlite3
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
import postgres_testlib  # noqa: E402
from ocspkit_testlib import OCSPCTL, Pki, run  # noqa: E402

# name -> (`openssl ca -revoke` arguments or None, status in the index, reason shown by ocspctl,
#          what `openssl ocsp` reports from our export: (Cert Status, Revocation Reason or None, extension text))
CASES = {
    "valid": (None, "good", "-", ("good", None, None)),
    "key": (["-crl_reason", "keyCompromise"], "revoked", "keyCompromise", ("revoked", "keyCompromise", None)),
    "superseded": (["-crl_reason", "superseded"], "revoked", "superseded", ("revoked", "superseded", None)),
    "noreason": ([], "revoked", "-", ("revoked", None, None)),
    "hold": (["-crl_hold", "holdInstructionReject"], "hold", "certificateHold",
             ("revoked", "certificateHold", "Hold Instruction Reject")),
    "plainhold": (["-crl_reason", "certificateHold"], "hold", "certificateHold", ("revoked", "certificateHold", None)),
    "keytime": (["-crl_compromise", "20250101000000Z"], "revoked", "keyCompromise",
                ("revoked", "keyCompromise", "Jan  1 00:00:00 2025 GMT")),
    "catime": (["-crl_CA_compromise", "20250202000000Z"], "revoked", "cACompromise",
               ("revoked", "cACompromise", "Feb  2 00:00:00 2025 GMT")),
    # RFC 5280 §5.3.1: removeFromCRL means the hold was released; ocspctl stores it as good.
    "removed": (["-crl_reason", "removeFromCRL"], "good", "-", ("good", None, None)),
}


def ctl(db, *args, check=True):
    return run([OCSPCTL, *map(str, args), "--db", str(db)], check=check)


def ocsp_statuses(workdir, pki, index_file, serials):
    """Asks `openssl ocsp` (offline: -reqout, then -index/-reqin/-respout) about `serials`; returns
    {serial: (status, reason, extension text)} parsed from -resp_text."""
    req = workdir / "req.der"
    resp = workdir / "resp.der"
    cmd = ["openssl", "ocsp", "-issuer", str(pki.ca_cert), "-no_nonce", "-reqout", str(req)]
    for s in serials:
        cmd += ["-serial", "0x" + s]
    run(cmd)
    run(["openssl", "ocsp", "-index", str(index_file), "-rsigner", str(pki.ca_cert), "-rkey", str(pki.ca_key),
         "-CA", str(pki.ca_cert), "-reqin", str(req), "-respout", str(resp)])
    text = run(["openssl", "ocsp", "-respin", str(resp), "-resp_text", "-noverify"]).stdout
    found = {}
    for block in text.split("Certificate ID:")[1:]:
        serial = re.search(r"Serial Number: ([0-9A-F]+)", block).group(1)
        status = re.search(r"Cert Status: (\w+)", block).group(1)
        reason = re.search(r"Revocation Reason: (\w+)", block)
        extension = re.search(r"(?:Hold Instruction Code|Invalidity Date):\s*\n\s*(.+)", block)
        found[serial] = (status, reason.group(1) if reason else None, extension.group(1).strip() if extension else None)
    return found


class OcspctlWithOpensslCa(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-ctl-")
        cls.root = Path(cls.tmp.name)
        cls.pki = Pki(cls.root, "Ctl Integration CA")
        cls.serials = {}
        for name, (revoke, *_rest) in CASES.items():
            cert, _key, serial = cls.pki.issue(f"{name}.example")
            cls.serials[name] = serial
            if revoke is not None:
                cls.pki.revoke(cert, *revoke)
        cls.db = cls.new_database()
        ctl(cls.db, "init")
        ctl(cls.db, "issuer", "add", cls.pki.ca_cert)
        cls.first_import = ctl(cls.db, "import-index", "--issuer", cls.pki.ca_cert, cls.pki.index())

    @classmethod
    def new_database(cls):
        return cls.root / "index.db"

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def list_rows(self, *extra):
        out = ctl(self.db, "list", *extra).stdout.splitlines()
        self.assertEqual(out[0], "ISSUER\tSERIAL\tSTATUS\tREASON\tREVOKED\tNOT_AFTER\tSUBJECT")
        return {row.split("\t")[1]: row.split("\t") for row in out[1:]}

    def test_1_import_list_show(self):
        self.assertIn(f": {len(CASES)} lines for issuer 1: {len(CASES)} inserted, 0 updated, 0 unchanged, 0 skipped",
                      self.first_import.stdout)
        rows = self.list_rows()
        self.assertEqual(len(rows), len(CASES))
        for name, (_revoke, status, reason, _ocsp) in CASES.items():
            row = rows[self.serials[name]]
            self.assertEqual((row[2], row[3], row[6]), (status, reason, f"/CN={name}.example"), name)
        held = self.list_rows("--status", "hold")
        self.assertEqual(set(held), {self.serials["hold"], self.serials["plainhold"]})

        show = ctl(self.db, "show", self.serials["keytime"]).stdout
        self.assertIn("status            revoked\n", show)
        self.assertIn("reason            keyCompromise\n", show)
        self.assertIn("invalidity date   2025-01-01T00:00:00Z\n", show)
        show = ctl(self.db, "show", self.serials["hold"]).stdout
        self.assertIn("hold instruction  1.2.840.10040.2.3\n", show)
        self.assertIn("certificate       not stored\n", show)

    def test_2_reimport_is_idempotent(self):
        again = ctl(self.db, "import-index", "--issuer", self.pki.ca_cert, self.pki.index()).stdout
        self.assertIn(f"0 inserted, 0 updated, {len(CASES)} unchanged, 0 skipped", again)
        self.assertEqual(len(self.list_rows()), len(CASES))

    def test_3_import_certs_stores_them_and_keeps_status(self):
        out = ctl(self.db, "import-certs", "--issuer", self.pki.ca_cert, self.pki.dir / "certs").stdout
        self.assertIn(f"{len(CASES)} certificates for issuer 1: 0 inserted, {len(CASES)} updated", out)
        show = ctl(self.db, "show", self.serials["key"]).stdout
        self.assertRegex(show, r"certificate       stored \(\d+ bytes DER\)\n")
        self.assertIn("status            revoked\n", show)
        self.assertIn("unchanged", ctl(self.db, "import-certs", "--issuer", "1", self.pki.dir / "certs").stdout)

    def test_4_export_answers_like_openssl_ca_index(self):
        exported = self.root / "exported.txt"
        out = ctl(self.db, "export-index", "-o", exported).stdout
        self.assertEqual(out, f"exported {len(CASES)} certificates to {exported}\n")
        self.assertEqual((self.root / "exported.txt.attr").read_text(), "unique_subject = no\n")
        serials = [self.serials[n] for n in CASES]
        ours = ocsp_statuses(self.root, self.pki, exported, serials)
        theirs = ocsp_statuses(self.root, self.pki, self.pki.index(), serials)
        for name, (*_rest, expected) in CASES.items():
            serial = self.serials[name]
            self.assertEqual(ours[serial], expected, name)
            if name != "removed":  # openssl answers its own removeFromCRL rows as revoked; we do not
                self.assertEqual(ours[serial], theirs[serial], name)
        self.assertEqual(theirs[self.serials["removed"]][:2], ("revoked", "removeFromCRL"))

    def test_5_foreign_sql_update_is_seen(self):
        serial = self.serials["valid"]
        before = int(re.search(r"change sequence   (\d+)", ctl(self.db, "show", serial).stdout).group(1))
        with sqlite3.connect(self.db) as conn:  # a client that is not ocspkit: triggers stamp its write
            conn.execute("UPDATE certificates SET status = 1, revocation_time = 1767225600, reason = 4 "
                         "WHERE serial = ?", (bytes.fromhex(serial),))
        conn.close()
        show = ctl(self.db, "show", serial).stdout
        self.assertIn("status            revoked\n", show)
        self.assertIn("reason            superseded\n", show)
        after = int(re.search(r"change sequence   (\d+)", show).group(1))
        self.assertGreater(after, before)


class OcspctlFailures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-ctlerr-")
        cls.root = Path(cls.tmp.name)
        cls.pki = Pki(cls.root, "Ctl Error CA")
        cls.other = Pki(cls.root, "Unrelated CA")
        cls.cert, _, cls.serial = cls.pki.issue("one.example")
        cls.foreign_cert, _, _ = cls.other.issue("foreign.example")
        cls.pki.revoke(cls.cert, "-crl_reason", "keyCompromise")
        cls.db = cls.new_database()
        ctl(cls.db, "init")
        ctl(cls.db, "issuer", "add", cls.pki.ca_cert)
        ctl(cls.db, "import-index", "--issuer", cls.pki.ca_cert, cls.pki.index())

    @classmethod
    def new_database(cls):
        return cls.root / "index.db"

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def snapshot(self):
        return ctl(self.db, "export-index").stdout, ctl(self.db, "list").stdout

    def test_missing_file(self):
        r = ctl(self.db, "import-index", "--issuer", self.pki.ca_cert, self.root / "nope.txt", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, f"ocspctl: {self.root / 'nope.txt'}: cannot open: No such file or directory\n")
        r = ctl(self.db, "issuer", "add", self.root / "nope.pem", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(str(self.root / "nope.pem"), r.stderr)

    def test_wrong_issuer_names_the_file_and_changes_nothing(self):
        before = self.snapshot()
        r = ctl(self.db, "import-certs", "--issuer", self.pki.ca_cert, self.pki.dir / "certs", self.foreign_cert,
                check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{self.foreign_cert}: certificate ", r.stderr)
        self.assertIn("was not issued by CN=Ctl Error CA,O=ocspkit tests: subject issuer mismatch", r.stderr)
        self.assertIn("nothing imported, database unchanged", r.stderr)
        self.assertEqual(self.snapshot(), before)
        r = ctl(self.db, "import-index", "--issuer", self.other.ca_cert, self.pki.index(), check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("is not registered; add it with `ocspctl issuer add", r.stderr)

    def test_bad_and_unknown_serials(self):
        r = ctl(self.db, "revoke", "12G4", "--reason", "keyCompromise", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("ocspctl: invalid serial '12G4': not hexadecimal ("), r.stderr)
        r = ctl(self.db, "revoke", "0102030405060708090A0B0C0D0E0F101112131415", "--reason", "keyCompromise",
                check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("21 octets, more than 20", r.stderr)
        r = ctl(self.db, "show", "ABCDEF0123", check=False)
        self.assertEqual((r.returncode, r.stderr), (2, "ocspctl: serial ABCDEF0123 is not in the index\n"))
        r = ctl(self.db, "unrevoke", self.serial, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, f"ocspctl: serial {self.serial} is revoked with reason keyCompromise; only "
                                   "certificateHold can be lifted\n")

    def test_failed_import_leaves_database_unchanged(self):
        before = self.snapshot()
        bad = self.root / "bad-index.txt"
        lines = self.pki.index().read_text().splitlines()
        # A new good line, then one `openssl ocsp` would also refuse.
        good_new = "V\t301231235959Z\t\t7777\tunknown\t/CN=new.example"
        bad.write_text("\n".join(lines + [good_new, "R\t301231235959Z\t\t7778\tunknown\t/CN=bad.example"]) + "\n")
        r = ctl(self.db, "import-index", "--issuer", self.pki.ca_cert, bad, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{bad}:{len(lines) + 2}: status R needs a revocation date\n", r.stderr)
        self.assertIn("nothing imported, database unchanged", r.stderr)
        self.assertEqual(self.snapshot(), before)

    def test_newer_schema_is_refused(self):
        newer = self.root / "newer.db"
        shutil.copy(self.db, newer)
        with sqlite3.connect(newer) as conn:
            conn.execute("PRAGMA user_version = 7")
        conn.close()
        for args in (["list"], ["show", self.serial], ["revoke", self.serial, "--reason", "superseded"], ["init"]):
            r = ctl(newer, *args, check=False)
            self.assertEqual(r.returncode, 3, args)
            self.assertEqual(r.stderr, f"ocspctl: {newer}: database schema version 7 is newer than this ocspkit "
                                       "supports (4); upgrade ocspkit\n")

    def test_missing_database(self):
        r = ctl(self.root / "absent.db", "list", check=False)
        self.assertEqual(r.returncode, 3)
        self.assertIn("database does not exist; create it with `ocspctl init", r.stderr)


# The same commands with the index in PostgreSQL (--db a libpq connection string), on one server.
@unittest.skipUnless(postgres_testlib.available(), "PostgreSQL is not installed")
class OcspctlWithOpensslCaOnPostgres(OcspctlWithOpensslCa):
    @classmethod
    def new_database(cls):
        return postgres_testlib.fresh_database("ctl")

    def test_5_foreign_sql_update_is_seen(self):
        serial = self.serials["valid"]
        before = int(re.search(r"change sequence   (\d+)", ctl(self.db, "show", serial).stdout).group(1))
        # A client that is not ocspkit: the triggers stamp its write.
        postgres_testlib.shared_server().psql(
            "UPDATE certificates SET status = 1, revocation_time = 1767225600, reason = 4 "
            f"WHERE serial = '\\x{serial}'::bytea", self.db)
        show = ctl(self.db, "show", serial).stdout
        self.assertIn("status            revoked\n", show)
        self.assertIn("reason            superseded\n", show)
        self.assertGreater(int(re.search(r"change sequence   (\d+)", show).group(1)), before)


@unittest.skipUnless(postgres_testlib.available(), "PostgreSQL is not installed")
class OcspctlFailuresOnPostgres(OcspctlFailures):
    @classmethod
    def new_database(cls):
        return postgres_testlib.fresh_database("ctlerr")

    def test_newer_schema_is_refused(self):
        newer = postgres_testlib.fresh_database("newer")
        ctl(newer, "init")
        postgres_testlib.shared_server().psql("UPDATE ocspkit_schema SET version = 7", newer)
        for args in (["list"], ["show", self.serial], ["revoke", self.serial, "--reason", "superseded"], ["init"]):
            r = ctl(newer, *args, check=False)
            self.assertEqual(r.returncode, 3, args)
            self.assertRegex(r.stderr, r"^ocspctl: PostgreSQL at .*schema version 7 is newer than this build's 4; "
                                       r"upgrade ocspkit\n$")

    def test_missing_database(self):
        absent = postgres_testlib.shared_server().conninfo("absent") + " password=secret123"
        r = ctl(absent, "list", check=False)
        self.assertEqual(r.returncode, 3)
        self.assertIn('database "absent" does not exist', r.stderr)
        self.assertIn("password=***", r.stderr)
        self.assertNotIn("secret123", r.stdout + r.stderr)
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
        empty = postgres_testlib.fresh_database("empty")
        r = ctl(empty, "list", check=False)
        self.assertEqual(r.returncode, 3)
        self.assertIn("no ocspkit index; run `ocspctl init` with this database", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
