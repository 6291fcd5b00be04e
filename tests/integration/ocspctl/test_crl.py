"""`ocspctl crl` on both index backends (a SQLite file and PostgreSQL): a CRL that `openssl crl -verify`
and `openssl verify -crl_check` accept, listing the revoked certificate and not the good one, in DER or
PEM, to a file or stdout; CRL numbers strictly increasing from 1 across runs; the refusals (another
key, an unknown or disabled issuer, a grace shorter than the validity) with their exit statuses."""
import re
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
import postgres_testlib  # noqa: E402
from ocspkit_testlib import OCSPCTL, Pki, run  # noqa: E402


def ctl(db, *args, check=True):
    return run([OCSPCTL, *map(str, args), "--db", str(db)], check=check)


def crl_number(crl_file, inform="DER"):
    text = run(["openssl", "crl", "-inform", inform, "-in", str(crl_file), "-noout", "-crlnumber"]).stdout
    return int(text.strip().split("=")[1], 16)


class OcspctlCrl(unittest.TestCase):
    @classmethod
    def new_database(cls):
        return cls.root / "index.db"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-ctl-crl-")
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.root = Path(cls.tmp.name)
        cls.pki = Pki(cls.root, "Ctl CRL CA", key="rsa")
        cls.good, _, cls.good_serial = cls.pki.issue("good.example")
        cls.revoked, _, cls.revoked_serial = cls.pki.issue("revoked.example")
        cls.db = cls.new_database()
        ctl(cls.db, "init")
        ctl(cls.db, "issuer", "add", cls.pki.ca_cert)
        ctl(cls.db, "import-index", "--issuer", cls.pki.ca_cert, cls.pki.index())
        ctl(cls.db, "revoke", cls.revoked_serial, "--issuer", cls.pki.ca_cert, "--reason", "keyCompromise")

    def crl(self, *extra, check=True):
        return ctl(self.db, "crl", "--issuer", self.pki.ca_cert, "--key", self.pki.ca_key, *extra, check=check)

    def test_1_crl_verifies_lists_the_revoked_and_numbers_increase(self):
        out = self.root / f"{id(self)}.crl"
        r = self.crl("--der", "--out", out)
        self.assertRegex(r.stdout, r"CRL number \d+ of .*: 1 entries")
        first = crl_number(out)
        check = run(["openssl", "crl", "-inform", "DER", "-in", str(out), "-CAfile", str(self.pki.ca_cert), "-noout"])
        self.assertIn("verify OK", check.stdout + check.stderr)
        text = run(["openssl", "crl", "-inform", "DER", "-in", str(out), "-noout", "-text"]).stdout
        self.assertIn(f"Serial Number: {self.revoked_serial}", text)
        self.assertNotIn(f"Serial Number: {self.good_serial}", text)
        self.assertIn("Key Compromise", text)
        self.assertIn("Authority Key Identifier", text)

        pem = self.root / f"{id(self)}.pem"
        printed = self.crl()  # PEM on stdout by default
        self.assertTrue(printed.stdout.startswith("-----BEGIN X509 CRL-----"), printed.stdout[:80])
        pem.write_text(printed.stdout)
        second = crl_number(pem, "PEM")
        self.crl("--pem", "--out", pem)
        third = crl_number(pem, "PEM")
        self.assertLess(first, second)
        self.assertLess(second, third)

        for cert, ok in ((self.good, True), (self.revoked, False)):
            v = run(["openssl", "verify", "-crl_check", "-CAfile", str(self.pki.ca_cert), "-CRLfile", str(pem),
                     str(cert)], check=False)
            self.assertEqual(v.returncode == 0, ok, v.stdout + v.stderr)
            if not ok:
                self.assertIn("certificate revoked", v.stdout + v.stderr)

    def test_2_refusals(self):
        other = Pki(self.root / f"other-{id(self)}", "Other CA")
        r = ctl(self.db, "crl", "--issuer", self.pki.ca_cert, "--key", other.ca_key, check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("is not the key of the CA certificate", r.stderr)
        r = ctl(self.db, "crl", "--issuer", "999", "--key", self.pki.ca_key, check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        r = self.crl("--validity", "7d", "--expired-grace", "1d", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("RFC 5280 §3.3", r.stderr)
        r = self.crl("--der", "--pem", check=False)
        self.assertEqual(r.returncode, 1)
        ctl(self.db, "issuer", "disable", self.pki.ca_cert)
        try:
            r = self.crl(check=False)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("disabled", r.stderr)
        finally:
            ctl(self.db, "issuer", "enable", self.pki.ca_cert)
        # A refused run takes no number that a later CRL would miss: numbers still only go up.
        before = self.crl("--der", "--out", self.root / "before.crl")
        self.assertEqual(before.returncode, 0)
        after = self.crl("--der", "--out", self.root / "after.crl")
        self.assertLess(crl_number(self.root / "before.crl"), crl_number(self.root / "after.crl"))

    def test_3_expired_grace_keep_is_accepted(self):
        out = self.root / f"keep-{id(self)}.crl"
        self.crl("--expired-grace", "keep", "--validity", "1d", "--der", "--out", out)
        text = run(["openssl", "crl", "-inform", "DER", "-in", str(out), "-noout", "-text"]).stdout
        self.assertRegex(text, r"Next Update: ")
        self.assertIn("2.5.29.60", text)


@unittest.skipUnless(postgres_testlib.available(), "PostgreSQL is not installed")
class OcspctlCrlOnPostgres(OcspctlCrl):
    @classmethod
    def new_database(cls):
        return postgres_testlib.fresh_database("crl")


if __name__ == "__main__":
    unittest.main(verbosity=2)
