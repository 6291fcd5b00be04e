"""ocsp-responder run as a non-root service user (nobody), as the package runs it as `ocspkit`: an index
it cannot use is refused at start-up and by --check-config with the path, the user and the chown that
fixes it; an index owned by that user is answered from, follows an `ocspctl revoke` made by root while
it runs (SQLite's -shm and -wal made by root must stay usable), and /health reports the file once it
becomes unreadable. Needs root to switch users; skipped (exit 77) otherwise."""
import grp
import os
import pwd
import shutil
import sqlite3
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import OCSPCTL, RESPONDER, Index, Pki, ocsp_query, run  # noqa: E402
from ops_lib import Daemon, config_text, wait_for  # noqa: E402

SKIP = 77
USER = "nobody"
GROUP = grp.getgrgid(pwd.getpwnam(USER).pw_gid).gr_name if os.geteuid() == 0 else None


def as_service_user():
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [setpriv, f"--reuid={USER}", f"--regid={GROUP}", "--clear-groups"]
    return [shutil.which("runuser"), "-u", USER, "--"]


def chown(path, user=USER, group=None):
    shutil.chown(path, user, group or GROUP)


class ServiceUser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-user-")
        cls.root = Path(cls.tmp.name)
        os.chmod(cls.root, 0o755)  # the service user walks through it to its own folders
        cls.pki = Pki(cls.root, "Service User CA")
        cls.leaf, _, cls.serial = cls.pki.issue("leaf.example")
        # The signing key belongs to the service user, 0600, as the package's docs ask.
        keys = cls.root / "keys"
        keys.mkdir(mode=0o700)
        cls.key = keys / "ca.key"
        shutil.copy(cls.pki.ca_key, cls.key)
        os.chmod(cls.key, 0o600)
        chown(cls.key)
        chown(keys)
        for p in cls.pki.dir.iterdir():
            if p.suffix == ".pem":
                os.chmod(p, 0o644)
        os.chmod(cls.pki.dir, 0o755)
        cls.issuer = {"name": "svc", "ca": str(cls.pki.ca_cert), "signer_key": str(cls.key)}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def service_dir(self):
        d = Path(tempfile.mkdtemp(dir=self.root))
        os.chmod(d, 0o755)
        chown(d)  # the responder writes its ready file here
        return d

    def index_in(self, folder, owner=None):
        """An index made by root in `folder`, filled from the PKI; handed to `owner` with
        `ocspctl init --owner` when ocspctl has it, else with chown."""
        db = folder / "index.db"
        has_owner = "--owner" in run([OCSPCTL, "init", "--help"], check=False).stdout
        if owner and has_owner:
            run([OCSPCTL, "init", "--db", str(db), "--owner", owner])
            index = Index.__new__(Index)
            index.path = db
        else:
            index = Index(db)
        index.add_pki(self.pki)
        if owner:
            # The folder is the package's to make (StateDirectory=, 0750 ocspkit:ocspkit); ocspctl owns files.
            user, group = owner.split(":")
            for p in [folder, *([] if has_owner else folder.glob("index.db*"))]:
                shutil.chown(p, user, group)
        return index

    def test_index_it_cannot_write_is_refused_with_the_fix(self):
        folder = self.root / "root-owned"
        folder.mkdir(mode=0o755)
        index = self.index_in(folder)
        db = index.path
        os.chmod(db, 0o644)
        config_dir = self.service_dir()
        cfg = config_dir / "responder.toml"
        cfg.write_text(config_text(db, [self.issuer]))
        os.chmod(cfg, 0o644)
        fix = f"chown {USER}:{GROUP} {folder} {db}*"

        # No -shm yet, and the folder is root's: SQLite could not create it.
        r = run([*as_service_user(), RESPONDER, "--config", str(cfg), "--check-config"], check=False)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn(f"index {db}: user {USER} (that ocsp-responder runs as) cannot create index.db-shm in {folder}",
                      r.stderr)
        self.assertIn(fix, r.stderr)
        self.assertIn(f"ocspctl init --db {db} --owner {USER}:{GROUP}", r.stderr)

        # A -shm made by a root reader (mode of the database, 0644): the daemon itself refuses to start.
        holder = sqlite3.connect(db)
        self.addCleanup(holder.close)
        holder.execute("SELECT count(*) FROM sqlite_master").fetchone()
        self.assertTrue(Path(f"{db}-shm").exists())
        d = Daemon(config_dir, cfg.read_text(), prefix=as_service_user(), wait_ready=False)
        self.addCleanup(d.close)
        self.assertEqual(d.proc.wait(timeout=20), 1, d.stderr())
        self.assertIn(f"user {USER} (that ocsp-responder runs as) cannot write {db}-shm (owner root", d.stderr())
        self.assertIn(fix, d.stderr())

        # An index the user cannot even read names its owner and mode.
        os.chmod(db, 0o600)
        r = run([*as_service_user(), RESPONDER, "--config", str(cfg), "--check-config"], check=False)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn(f"index {db} (owner root, group root, mode 0600) cannot be read by user {USER}", r.stderr)
        self.assertIn(fix, r.stderr)

    def test_owned_index_answers_and_follows_revocations_made_by_root(self):
        folder = self.root / "state"
        folder.mkdir(mode=0o750)
        index = self.index_in(folder, owner=f"{USER}:{GROUP}")
        db = index.path
        self.assertEqual(Path(db).stat().st_uid, pwd.getpwnam(USER).pw_uid)

        d = Daemon(self.service_dir(), config_text(db, [self.issuer]), prefix=as_service_user())
        self.addCleanup(d.close)
        rc, out = ocsp_query(d.url, self.pki.ca_cert, serials=[self.serial], ca_file=self.pki.ca_cert)
        self.assertEqual(rc, 0, out)
        self.assertIn(": good", out)
        self.assertTrue(Path(f"{db}-shm").exists(), "the responder keeps the -shm open")

        # Root writes while the service user reads: the -wal root creates must stay the user's.
        run([OCSPCTL, "revoke", self.serial, "--reason", "keyCompromise", "--db", str(db)])
        d.wait_for_log(f"serial {self.serial} revoked (keyCompromise)")

        def revoked():
            rc, out = ocsp_query(d.url, self.pki.ca_cert, serials=[self.serial], ca_file=self.pki.ca_cert)
            return rc == 0 and ": revoked" in out
        wait_for(revoked, what="the revocation made by root")
        self.assertNotIn("readonly", d.stderr())
        self.assertEqual(d.get("/health")[0], 200, d.get("/health")[2])

        # Unreadable now (a wrong chmod): /health says so, for GET and HEAD.
        os.chmod(db, 0o000)
        self.addCleanup(os.chmod, db, 0o640)
        status, _, body = d.get("/health")
        self.assertEqual(status, 503)
        self.assertIn(f"index {db} (owner {USER}, group {GROUP}, mode 0000) cannot be read by user {USER}",
                      body.decode())
        self.assertEqual(d.get("/health", method="HEAD")[0], 503)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("skipped: switching to the service user needs root")
        sys.exit(SKIP)
    unittest.main(verbosity=2)
