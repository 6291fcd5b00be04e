"""`cmake --install` into a temporary prefix (no root needed): the three programs, libocspstaple with its
header and .pc, the units with ExecStart= and Documentation= rewritten to that prefix (and accepted by
`systemd-analyze verify`), tmpfiles.d/sysusers.d, docs, examples and gzipped man pages.
"""
import os
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))
from ocspkit_testlib import run  # noqa: E402

BINARY_DIR = Path(os.environ.get("OCSPKIT_BINARY_DIR", "."))
SOURCE_DIR = Path(os.environ.get("OCSPKIT_SOURCE_DIR", HERE.parents[2]))


class CmakeInstall(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-install-")
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.prefix = Path(cls.tmp.name) / "opt" / "ocspkit"
        run(["cmake", "--install", str(BINARY_DIR), "--prefix", str(cls.prefix)], timeout=300)

    def test_files(self):
        p = self.prefix
        for f in ["bin/ocspctl", "bin/ocsp-responder", "bin/ocsp-stapler"]:
            self.assertTrue(os.access(p / f, os.X_OK), f)
        self.assertFalse(sorted(x.name for x in (p / "bin").iterdir() if x.name not in
                                ("ocspctl", "ocsp-responder", "ocsp-stapler")), "only the three programs")
        self.assertTrue((p / "include/ocsp_staple.h").is_file())
        self.assertTrue(list(p.glob("lib*/**/libocspstaple.so.0")), "libocspstaple.so.0")
        pc = list(p.glob("lib*/**/pkgconfig/ocspstaple.pc"))
        self.assertTrue(pc, "ocspstaple.pc")
        # The .pc finds the prefix relative to itself.
        env = dict(os.environ, PKG_CONFIG_PATH=str(pc[0].parent))
        cflags = subprocess.run(["pkg-config", "--cflags", "ocspstaple"], capture_output=True, text=True, env=env)
        includes = [os.path.realpath(f[2:]) for f in cflags.stdout.split() if f.startswith("-I")]
        self.assertEqual(includes, [os.path.realpath(p / "include")], cflags.stdout + cflags.stderr)
        for f in ["lib/tmpfiles.d/ocspkit.conf", "lib/sysusers.d/ocspkit.conf", "share/doc/ocspkit/README.md",
                  "share/doc/ocspkit/examples/config/responder.toml",
                  "share/doc/ocspkit/examples/config/stapler.toml", "share/doc/ocspkit/examples/staple_server.c"]:
            self.assertTrue((p / f).is_file(), f)
        for md in (SOURCE_DIR / "docs").glob("*.md"):
            self.assertTrue((p / "share/doc/ocspkit" / md.name).is_file(), md.name)
        for page in (SOURCE_DIR / "docs/man").glob("*.[1-8]"):
            installed = p / f"share/man/man{page.suffix[1:]}/{page.name}.gz"
            self.assertTrue(installed.is_file(), installed)
            self.assertEqual(run(["gzip", "-dc", str(installed)]).stdout, page.read_text())
        self.assertFalse((p / "share/doc/ocspkit/examples/systemd").exists())
        self.assertFalse((p / "share/doc/ocspkit/examples/debian").exists())

    def test_units_follow_the_prefix(self):
        units = self.prefix / "lib/systemd/system"
        for name in ("ocsp-responder.service", "ocsp-stapler.service"):
            text = (units / name).read_text()
            program = name.removesuffix(".service")
            self.assertRegex(text, rf"(?m)^ExecStart={re.escape(str(self.prefix))}/bin/{program} ")
            self.assertNotIn("/usr/bin/", text)
            self.assertIn(f"file://{self.prefix}/share/doc/ocspkit/", text)
            for doc in re.findall(r"file://(\S+)", text):
                self.assertTrue(Path(doc).is_file(), f"{name}: Documentation= {doc} is not installed")
            r = run(["systemd-analyze", "verify", "--man=no", str(units / name)], check=False)
            self.assertEqual((r.returncode, (r.stdout + r.stderr).strip()), (0, ""), name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
