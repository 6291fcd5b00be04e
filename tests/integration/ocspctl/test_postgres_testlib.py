"""The PostgreSQL helper other integration tests build on: a server that restarts on its data, databases
reachable over the socket and loopback, and a standby that replays the primary's writes."""
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
import postgres_testlib  # noqa: E402


@unittest.skipUnless(postgres_testlib.available(), "PostgreSQL is not installed")
class PostgresHelper(unittest.TestCase):
    def test_restart_standby_and_cleanup(self):
        with postgres_testlib.PostgresServer(tcp=True) as primary:
            primary.create_database("helper")
            primary.psql("CREATE TABLE t (n int); INSERT INTO t VALUES (1)", "helper")
            self.assertIn("127.0.0.1", primary.conninfo("helper", tcp=True))

            standby = primary.make_standby()
            self.assertEqual(standby.psql("SELECT pg_is_in_recovery()"), "t")
            primary.psql("INSERT INTO t VALUES (2)", "helper")
            standby.wait_for_replay(primary)
            self.assertEqual(standby.psql("SELECT sum(n) FROM t", "helper"), "3")

            primary.stop()
            primary.start()
            self.assertEqual(primary.psql("SELECT count(*) FROM t", "helper"), "2")
            folders = [primary.dir, standby.dir]
        for folder in folders:
            self.assertFalse(folder.exists(), folder)


if __name__ == "__main__":
    unittest.main(verbosity=2)
