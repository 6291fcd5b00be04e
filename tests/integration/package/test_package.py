"""The Debian package on this machine: the .deb built by the package_build fixture is installed with
apt-get, its files, users, folders and systemd units are checked, both daemons run from the installed
files as their service users with their units' own ExecStart= lines (ready through sd_notify), the
responder answers `openssl ocsp` (good, then revoked after `ocspctl revoke`), the stapler staples from
it (status, and a TLS-server-side lookup through the installed libocspstaple), and `apt-get purge`
removes what the package owns and keeps the index.

Runs as root (or re-runs itself through passwordless sudo). What it touches outside the package (the
/etc and /var/lib folders of both daemons) is set aside first and put back at the end; the service
users stay, as they do after a purge.
"""
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
sys.path.insert(0, str(HERE))
from ocspkit_testlib import Pki, free_port, ocsp_query, run  # noqa: E402
from package_testlib import (MachineState, Service, Unit, allowed_syscalls, apt_get, ensure_root,  # noqa: E402
                             is_installed, owner_mode, package_state)

BINARY_DIR = Path(os.environ.get("OCSPKIT_BINARY_DIR", "."))
SOURCE_DIR = Path(os.environ.get("OCSPKIT_SOURCE_DIR", HERE.parents[2]))
VERSION = os.environ.get("OCSPKIT_VERSION", "")

OCSPCTL = "/usr/bin/ocspctl"
UNIT_DIR = Path("/lib/systemd/system")
RESPONDER_UNIT = UNIT_DIR / "ocsp-responder.service"
STAPLER_UNIT = UNIT_DIR / "ocsp-stapler.service"
PROGRAMS = ["/usr/bin/ocspctl", "/usr/bin/ocsp-responder", "/usr/bin/ocsp-stapler"]
# The three pages, and every other page in docs/man, gzipped.
MAN_PAGES = sorted({"/usr/share/man/man1/ocspctl.1.gz", "/usr/share/man/man8/ocsp-responder.8.gz",
                    "/usr/share/man/man8/ocsp-stapler.8.gz"}
                   | {f"/usr/share/man/man{page.suffix[1:]}/{page.name}.gz"
                      for page in (SOURCE_DIR / "docs/man").glob("*.[1-8]")})
MAX_EXPOSURE = 2.5

# The libocspstaple side of a TLS server: look the certificate up in the installed stapler's cache and
# write the staple it would send.
STAPLE_LOOKUP_C = r"""
#include <ocsp_staple.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    static uint8_t cert[65536], out[65536];
    FILE *f = fopen(argv[2], "rb");
    if (!f) { perror(argv[2]); return 10; }
    size_t cert_len = fread(cert, 1, sizeof cert, f);
    fclose(f);
    ocsp_staple_cache *cache = NULL;
    int rc = ocsp_staple_cache_open(argv[1], &cache);
    if (rc != OCSP_STAPLE_OK) { fprintf(stderr, "open: %s\n", ocsp_staple_error_string(rc)); return 11; }
    size_t len = 0;
    int verdict = -1;
    rc = ocsp_staple_lookup(cache, cert, cert_len, out, sizeof out, &len, &verdict);
    if (rc != OCSP_STAPLE_OK || verdict != OCSP_STAPLE_VERDICT_STAPLE) {
        fprintf(stderr, "lookup: %s, verdict %d\n", ocsp_staple_error_string(rc), verdict);
        return 12;
    }
    fwrite(out, 1, len, stdout);
    ocsp_staple_cache_free(cache);
    return 0;
}
"""


def find_deb():
    debs = sorted(BINARY_DIR.glob("ocspkit_*.deb"), key=lambda p: p.stat().st_mtime)
    if not debs:
        raise AssertionError(f"no ocspkit_*.deb in {BINARY_DIR}: the package_build fixture "
                             f"(cmake --build {BINARY_DIR} --target package) should have made it")
    return debs[-1]


def write(path, text, mode=0o644, owner="root", group="root"):
    path = Path(path)
    path.write_text(text)
    shutil.chown(path, owner, group)
    os.chmod(path, mode)
    return path


def package_files():
    return set(run(["dpkg", "-L", "ocspkit"]).stdout.split())


class Package(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.machine = MachineState()
        cls.machine.save()
        cls.addClassCleanup(cls.machine.restore)
        cls.addClassCleanup(lambda: apt_get("purge", "-y", "ocspkit") if is_installed() else None)
        cls.deb = find_deb()
        cls.install_log = apt_get("install", "-y", f"./{cls.deb.name}", cwd=cls.deb.parent)

    # --- the file and what it holds ------------------------------------------------------------------

    def test_1_package_file(self):
        arch = run(["dpkg", "--print-architecture"]).stdout.strip()
        self.assertEqual(self.deb.name, f"ocspkit_{VERSION}_{arch}.deb")
        fields = {k: run(["dpkg-deb", "-f", str(self.deb), k]).stdout.strip()
                  for k in ("Package", "Version", "Architecture", "Depends", "Maintainer", "Description")}
        self.assertEqual(fields["Version"], VERSION)
        depends = [d.strip().split()[0] for d in fields["Depends"].split(",")]
        # adduser for the postinst; the rest from dpkg-shlibdeps.
        for dep in ("adduser", "libc6", "libssl3", "libsqlite3-0", "libsystemd0"):
            self.assertIn(dep, depends, fields["Depends"])
        contents = run(["dpkg-deb", "-c", str(self.deb)]).stdout
        paths = [line.split()[5].lstrip(".") for line in contents.splitlines()]
        programs = sorted(p for p in paths if re.match(r"^/usr/s?bin/.", p))
        self.assertEqual(programs, sorted(PROGRAMS), "only the three programs: no tests, benchmarks or examples")
        self.assertFalse([p for p in paths if re.search(r"(_test|bench|fuzz|staple-example-server)[^/]*$", p)])
        control = run(["dpkg-deb", "-I", str(self.deb)]).stdout
        for script in ("postinst", "prerm", "postrm", "triggers", "shlibs"):
            self.assertRegex(control, rf"\b{script}\b")

    def test_2_installed_files(self):
        files = package_files()
        expected = PROGRAMS + MAN_PAGES + [
            str(RESPONDER_UNIT), str(STAPLER_UNIT), "/usr/include/ocsp_staple.h",
            "/usr/lib/tmpfiles.d/ocspkit.conf", "/usr/lib/sysusers.d/ocspkit.conf",
            "/usr/share/doc/ocspkit/README.md",
            "/usr/share/doc/ocspkit/examples/config/responder.toml",
            "/usr/share/doc/ocspkit/examples/config/stapler.toml",
            "/usr/share/doc/ocspkit/examples/nginx/ocsp-stapler.conf",
            "/usr/share/doc/ocspkit/examples/haproxy/haproxy.cfg",
            "/usr/share/doc/ocspkit/examples/staple_server.c"]
        expected += [f"/usr/share/doc/ocspkit/{p.name}" for p in (SOURCE_DIR / "docs").glob("*.md")]
        prometheus = SOURCE_DIR / "deploy" / "prometheus"
        if prometheus.is_dir():
            expected += [f"/usr/share/doc/ocspkit/examples/prometheus/{p.relative_to(prometheus)}"
                         for p in prometheus.rglob("*") if p.is_file() and not p.name.startswith(".")]
        missing = [f for f in expected if f not in files]
        self.assertFalse(missing, f"not in `dpkg -L ocspkit`: {missing}")
        for f in expected:
            self.assertTrue(Path(f).is_file(), f)
        for lib in ("libocspstaple.so.0", "pkgconfig/ocspstaple.pc"):
            self.assertTrue([f for f in files if re.match(rf"^/usr/lib/(.+/)?{re.escape(lib)}", f)], lib)
        for page in MAN_PAGES:  # gzip -9n: no name, no time stamp
            data = Path(page).read_bytes()
            self.assertEqual(data[:2], b"\x1f\x8b", page)
            self.assertEqual(data[4:8], b"\0\0\0\0", f"{page} has a time stamp (gzip -n)")
        # Every Documentation= of the units names something the package installed.
        for unit in (Unit(RESPONDER_UNIT), Unit(STAPLER_UNIT)):
            docs = " ".join(unit.values("Documentation", "Unit")).split()
            self.assertTrue(docs, unit.name)
            for doc in docs:
                if doc.startswith("file://"):
                    self.assertIn(doc[len("file://"):], files, f"{unit.name}: {doc}")
                else:
                    m = re.fullmatch(r"man:([\w.-]+)\((\d)\)", doc)
                    self.assertTrue(m, f"{unit.name}: {doc}")
                    self.assertIn(f"/usr/share/man/man{m[2]}/{m[1]}.{m[2]}.gz", files, f"{unit.name}: {doc}")
        # The ldconfig trigger ran, and a program builds against the installed header, .pc and library.
        self.assertIn("libocspstaple.so.0", run(["ldconfig", "-p"]).stdout)
        for program in PROGRAMS:
            out = run([program, "--version"]).stdout
            self.assertTrue(out.startswith(f"{Path(program).name} {VERSION}"), out)

    def test_3_users_and_folders(self):
        def identity():
            return {u: (pwd.getpwnam(u).pw_uid, pwd.getpwnam(u).pw_gid) for u in ("ocspkit", "ocsp-stapler")}

        def check():
            for user, home in (("ocspkit", "/var/lib/ocspkit"), ("ocsp-stapler", "/var/lib/ocsp-stapler")):
                entry = pwd.getpwnam(user)
                self.assertLess(entry.pw_uid, 1000, f"{user} is a system user")
                self.assertEqual(entry.pw_dir, home)
                self.assertEqual(entry.pw_shell, "/usr/sbin/nologin")
                self.assertEqual(run(["id", "-gn", user]).stdout.strip(), user)
            self.assertEqual(owner_mode("/var/lib/ocspkit"), ("ocspkit", "ocspkit", 0o750))
            self.assertEqual(owner_mode("/etc/ocspkit"), ("root", "ocspkit", 0o750))
            self.assertEqual(owner_mode("/var/lib/ocsp-stapler"), ("ocsp-stapler", "ocsp-stapler", 0o700))
            self.assertEqual(owner_mode("/etc/ocsp-stapler"), ("root", "root", 0o755))
            self.assertEqual(owner_mode("/var/lib/ocsp-stapler/nginx"), ("ocsp-stapler", "ocsp-stapler", 0o755))

        check()
        before = identity()
        # The postinst is idempotent: a second run keeps the users and repairs a folder's mode.
        os.chmod("/var/lib/ocspkit", 0o777)
        apt_get("install", "-y", "--reinstall", f"./{self.deb.name}", cwd=self.deb.parent)
        check()
        self.assertEqual(identity(), before)
        # systemd-tmpfiles (at boot; the postinst runs it when systemd runs) agrees with the postinst and
        # makes /run/ocsp-stapler, where the stapler's unit puts its RuntimeDirectory=.
        run(["systemd-tmpfiles", "--create", "/usr/lib/tmpfiles.d/ocspkit.conf"])
        check()
        self.assertEqual(owner_mode("/run/ocsp-stapler"), ("ocsp-stapler", "ocsp-stapler", 0o755))

    def test_4_units(self):
        exposure = {}
        for unit in (RESPONDER_UNIT, STAPLER_UNIT):
            r = run(["systemd-analyze", "verify", str(unit)], check=False)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual((r.stdout + r.stderr).strip(), "", f"systemd-analyze verify {unit}")
            r = run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)], check=False)
            m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout + r.stderr)
            self.assertTrue(m, r.stdout + r.stderr)
            exposure[unit.name] = float(m[1])
            self.assertLessEqual(exposure[unit.name], MAX_EXPOSURE, r.stdout)
            u = Unit(unit)
            self.assertEqual(u.value("Type"), "notify", unit)
            self.assertEqual(u.value("ExecReload"), "/bin/kill -HUP $MAINPID", unit)
            self.assertIsNotNone(u.value("LimitNOFILE"), unit)
        # The responder holds the signing key: at least as tight as the stapler.
        self.assertLessEqual(exposure["ocsp-responder.service"], exposure["ocsp-stapler.service"], exposure)

    # --- both daemons, as their units run them -------------------------------------------------------

    def test_5_daemons(self):
        tmp = Path(tempfile.mkdtemp(prefix="ocspkit-package-"))
        os.chmod(tmp, 0o711)
        self.addCleanup(shutil.rmtree, tmp, True)
        port = free_port()
        pki = Pki(tmp, "Package CA", key="ec", ocsp_url=f"http://127.0.0.1:{port}/")
        leaf, _, serial = pki.issue("www", san="DNS:localhost")
        signer, signer_key, _ = pki.issue("ocsp-signer", extensions="ocsp_signer")

        # The responder's files as the operator would lay them out (deploy/debian/README).
        etc = Path("/etc/ocspkit")
        ca = write(etc / "issuing-ca.pem", pki.ca_cert.read_text())
        write(etc / "ocsp-signer.pem", Path(signer).read_text())
        write(etc / "ocsp-signer.key", Path(signer_key).read_text(), mode=0o640, group="ocspkit")
        write(etc / "responder.toml", f"""database = "/var/lib/ocspkit/index.db"

[server]
listen = ["127.0.0.1:{port}"]
change_poll = "100ms"

[log]
level = "info"
access_log = false

[[issuer]]
name = "package-ca"
ca = "{ca}"
signer_cert = "{etc / 'ocsp-signer.pem'}"
signer_key = "{etc / 'ocsp-signer.key'}"
allow_group_readable_key = true
""")
        db = "/var/lib/ocspkit/index.db"
        run([OCSPCTL, "init", "--owner", "ocspkit:ocspkit", "--db", db])
        run([OCSPCTL, "issuer", "add", str(ca), "--db", db])
        run([OCSPCTL, "import-index", "--issuer", str(ca), str(pki.index()), "--db", db])

        responder = Service(Unit(RESPONDER_UNIT), tmp / "responder", trace_syscalls=True)
        self.addCleanup(responder.close)
        responder.start(ready_timeout=30)
        ocspkit_uid = pwd.getpwnam("ocspkit").pw_uid
        self.assertEqual(responder.process_uids(), [ocspkit_uid] * 4)
        url = f"http://127.0.0.1:{port}"
        rc, out = ocsp_query(url, ca, certs=[leaf], ca_file=ca)
        self.assertIn(f"{leaf}: good", out)
        self.assertIn("Response verify OK", out)

        # The stapler, fetching from that responder (the leaf's AIA URL).
        stapler_etc = Path("/etc/ocsp-stapler")
        chain = write(stapler_etc / "www-chain.pem", Path(leaf).read_text() + pki.ca_cert.read_text())
        stapler_config = write(stapler_etc / "ocsp-stapler.toml", f"""[stapler]
state_dir = "/var/lib/ocsp-stapler"
shm_path = "/run/ocsp-stapler/staples"
control_socket = "/run/ocsp-stapler/control.sock"
min_refresh_interval = "1s"
retry_initial = "200ms"
retry_max = "2s"
startup_timeout = "20s"

[[certificate]]
name = "www"
chain = "{chain}"
nginx_file = "/var/lib/ocsp-stapler/nginx/www.der"   # the example configuration's export folder
""")
        stapler = Service(Unit(STAPLER_UNIT), tmp / "stapler", trace_syscalls=True)
        self.addCleanup(stapler.close)
        stapler.start(ready_timeout=60)
        self.assertEqual(stapler.process_uids(), [pwd.getpwnam("ocsp-stapler").pw_uid] * 4)
        status = self.stapler_status(stapler_config)
        self.assertEqual((status["status"], status["last_error"]), ("good", None), status)
        text = run(["/usr/bin/ocsp-stapler", "status", "--config", str(stapler_config)]).stdout
        self.assertRegex(text, r"(?m)^www\s+good\b", text)
        self.assertEqual(owner_mode("/var/lib/ocsp-stapler/www.der")[:2], ("ocsp-stapler", "ocsp-stapler"))
        # Readiness waited for the export, written by the service user into the folder the package made.
        self.assertEqual(Path("/var/lib/ocsp-stapler/nginx/www.der").read_bytes(),
                         Path("/var/lib/ocsp-stapler/www.der").read_bytes())

        # A TLS server's side: another user reads the staple through the installed libocspstaple.
        self.assert_library_staple(tmp, leaf, ca, "good")

        # ExecReload=: both stay up; the responder says RELOADING=1, then READY=1 again.
        responder.reload()
        responder.wait_notify("RELOADING", "1", 10)
        responder.wait_notify("READY", "1", 30)
        stapler.reload()
        self.assertTrue(stapler.alive(), stapler.log_text())

        # A revocation by root with the installed ocspctl reaches the running responder, and the index
        # files (-wal/-shm included) still belong to ocspkit.
        run([OCSPCTL, "revoke", serial, "--issuer", str(ca), "--reason", "keyCompromise", "--db", db])
        deadline = time.monotonic() + 5
        while not re.search(rf"{re.escape(str(leaf))}: revoked", out):
            self.assertLess(time.monotonic(), deadline, f"the responder still answers:\n{out}\n{responder.log_text()}")
            time.sleep(0.1)
            # Without a nonce: the answer the stapler gets, from the responder's pre-signed cache.
            rc, out = ocsp_query(url, ca, certs=[leaf], ca_file=ca, extra=["-no_nonce"])
        self.assertIn("keyCompromise", out)
        for f in Path("/var/lib/ocspkit").iterdir():
            self.assertEqual(owner_mode(f)[:2], ("ocspkit", "ocspkit"), f)
            self.assertEqual(owner_mode(f)[2] & 0o007, 0, f"{f} is open to others")
        r = run(["/usr/bin/ocsp-stapler", "refresh", "www", "--config", str(stapler_config)], check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.stapler_status(stapler_config)["status"], "revoked")
        self.assert_library_staple(tmp, leaf, ca, "revoked")

        # KillSignal=SIGTERM: STOPPING=1, then a clean exit within TimeoutStopSec=.
        for service in (stapler, responder):
            self.assertEqual(service.stop(timeout=15), 0, service.log_text())
            service.wait_notify("STOPPING", "1", 5)

        # Everything both daemons did above stays inside their units' SystemCallFilter= (under systemd a
        # syscall outside it fails with EPERM, SystemCallErrorNumber=).
        for service in (responder, stapler):
            used = service.syscalls_used()
            self.assertIn("sendmsg", used, "the trace misses sd_notify's sendmsg: strace saw nothing?")
            outside = used - allowed_syscalls(service.unit)
            self.assertFalse(outside, f"{service.unit.name}: syscalls outside SystemCallFilter=")

    def stapler_status(self, config):
        r = run(["/usr/bin/ocsp-stapler", "status", "--config", str(config), "--json"])
        certs = {c["name"]: c for c in json.loads(r.stdout)["certificates"]}
        return certs["www"]

    def assert_library_staple(self, tmp, leaf, ca, expected):
        program = tmp / "staple-lookup"
        if not program.exists():
            source = tmp / "staple-lookup.c"
            source.write_text(STAPLE_LOOKUP_C)
            flags = run(["pkg-config", "--cflags", "--libs", "ocspstaple"]).stdout.split()
            run(["cc", "-std=c11", "-Wall", "-Werror", str(source), "-o", str(program), *flags])
            run(["openssl", "x509", "-in", str(leaf), "-outform", "DER", "-out", str(tmp / "www.der")])
            for f in (program, tmp / "www.der"):
                os.chmod(f, 0o755)
        r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", str(program),
                            "/run/ocsp-stapler/staples", str(tmp / "www.der")], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        staple = tmp / "staple.der"
        staple.write_bytes(r.stdout)
        v = run(["openssl", "ocsp", "-respin", str(staple), "-issuer", str(ca), "-cert", str(leaf),
                 "-CAfile", str(ca)], check=False)
        self.assertIn(f"{leaf}: {expected}", v.stdout + v.stderr)

    # --- removal ---------------------------------------------------------------------------------------

    def test_6_purge(self):
        # What the operator made stays: a config in /etc/ocspkit and the index. The stapler's folder is
        # left empty, as by an operator who wrote nothing there.
        write("/etc/ocspkit/responder.toml", "# kept by the purge\n")
        if not Path("/var/lib/ocspkit/index.db").exists():
            run([OCSPCTL, "init", "--owner", "ocspkit:ocspkit", "--db", "/var/lib/ocspkit/index.db"])
        for f in Path("/etc/ocsp-stapler").iterdir():
            f.unlink()
        Path("/var/lib/ocsp-stapler/www.der").write_bytes(b"state")
        run(["systemd-tmpfiles", "--create", "/usr/lib/tmpfiles.d/ocspkit.conf"])

        apt_get("purge", "-y", "ocspkit")
        self.assertFalse(is_installed(), package_state())
        for gone in PROGRAMS + [str(RESPONDER_UNIT), str(STAPLER_UNIT), "/usr/include/ocsp_staple.h",
                                "/usr/share/doc/ocspkit", "/var/lib/ocsp-stapler", "/run/ocsp-stapler",
                                "/etc/ocsp-stapler"]:
            self.assertFalse(os.path.lexists(gone), f"{gone} is still there after the purge")
        self.assertNotIn("libocspstaple", run(["ldconfig", "-p"]).stdout)
        self.assertTrue(Path("/etc/ocspkit/responder.toml").exists(), "the purge deleted a config it did not make")
        self.assertTrue(Path("/var/lib/ocspkit/index.db").exists(), "the purge deleted the index")
        for user in ("ocspkit", "ocsp-stapler"):
            pwd.getpwnam(user)  # kept: files such as the index still belong to them


if __name__ == "__main__":
    ensure_root()
    unittest.main(verbosity=2)
