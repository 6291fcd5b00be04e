"""A throwaway PostgreSQL server for integration tests, the Python twin of tests/support/postgres_server.

initdb and pg_ctl in a temp folder, trust authentication, a unix socket in that folder (and, on request,
127.0.0.1 on a free port), fsync off. As root the server runs as the `postgres` user through runuser, since
PostgreSQL refuses to run as root. make_standby() adds a streaming replica made with pg_basebackup -R.

    with PostgresServer() as pg:
        db = pg.create_database("ocspkit")      # a libpq key=value string
        with pg.make_standby() as standby:
            ...write on db...
            standby.wait_for_replay(pg)

OCSPKIT_PG_BINDIR overrides where the binaries are looked for (default: `pg_config --bindir`, else the
newest /usr/lib/postgresql/<version>/bin).
"""
import atexit
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SUPERUSER = "ocspkit"


def bindir():
    """Where initdb, pg_ctl, psql and pg_basebackup are, or None when PostgreSQL is not installed."""
    configured = os.environ.get("OCSPKIT_PG_BINDIR")
    if configured:
        return Path(configured)
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if candidates:
        return candidates[-1].parent
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        found = Path(out.stdout.strip())
        if out.returncode == 0 and (found / "initdb").exists():
            return found
    return None


def available():
    return bindir() is not None


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _quote_conninfo_value(value):
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


class PostgresServer:
    """One PostgreSQL cluster in a temp folder; stop() and start() keep its data; close() removes it."""

    def __init__(self, tcp=False, _basebackup_from=None):
        self.bin = bindir()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed (no initdb; set OCSPKIT_PG_BINDIR)")
        self.tcp = tcp
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="ocspkit-pg-"))
        self.data = self.dir / "data"
        self.running = False
        self._standbys = []
        try:
            self._run_as_server_user_prepare()
            if _basebackup_from is None:
                self._initdb()
            else:
                self._basebackup(_basebackup_from)
            self.start()
        except BaseException:
            self.close()
            raise

    # -- the server's user ---------------------------------------------------------------------------
    def _run_as_server_user_prepare(self):
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.dir, account.pw_uid, account.pw_gid)

    def _as_server_user(self, argv):
        return ["runuser", "-u", "postgres", "--"] + argv if os.geteuid() == 0 else argv

    def _run(self, argv, server_user=True, check=True, timeout=120):
        cmd = self._as_server_user(argv) if server_user else argv
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
                               + self._log_tail())
        return proc

    def _log_tail(self):
        log = self.dir / "server.log"
        try:
            return "\n--- server.log ---\n" + log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    # -- creation --------------------------------------------------------------------------------------
    def _initdb(self):
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                   "--no-sync"])
        # Streaming replication for make_standby(): the bootstrap superuser may replicate; these lines say
        # so explicitly for the socket and for loopback, whatever initdb's defaults become.
        with open(self.data / "pg_hba.conf", "a", encoding="utf-8") as hba:
            hba.write("\nlocal replication all trust\nhost replication all 127.0.0.1/32 trust\n")

    def _basebackup(self, primary):
        self._run([str(self.bin / "pg_basebackup"), "-D", str(self.data), "-R", "-X", "stream", "--no-sync", "--checkpoint=fast",
                   "-h", str(primary.dir), "-p", str(primary.port), "-U", SUPERUSER])

    # -- life cycle ------------------------------------------------------------------------------------
    def start(self):
        """Starts the server (again) on the same data folder, socket and port."""
        if self.running:
            return
        listen = "127.0.0.1" if self.tcp else ""
        # fsync off: a test cluster is thrown away, and durability costs seconds per test.
        options = (f"-k {self.dir} -p {self.port} -c listen_addresses='{listen}' -c fsync=off "
                   "-c wal_level=replica -c max_wal_senders=10 -c hot_standby=on")
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w",
                   "-o", options, "start"])
        self.running = True

    def stop(self):
        """Stops the server, keeping its data; idempotent."""
        if not self.running:
            return
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"], check=False)
        self.running = False

    def close(self):
        """Stops this server and its standbys and removes their folders; idempotent."""
        for standby in self._standbys:
            standby.close()
        self._standbys = []
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- clients ---------------------------------------------------------------------------------------
    def conninfo(self, dbname="postgres", tcp=False):
        """A libpq key=value string for `dbname` as the superuser, over the socket or (tcp=True) loopback."""
        if tcp:
            if not self.tcp:
                raise RuntimeError("this server was started without tcp=True")
            host = "127.0.0.1"
        else:
            host = str(self.dir)
        return (f"host={_quote_conninfo_value(host)} port={self.port} user={SUPERUSER} "
                f"dbname={_quote_conninfo_value(dbname)}")

    def psql(self, sql, database="postgres"):
        """Runs one SQL string with psql on `database` (a name, or a conninfo from create_database()) and
        returns its unaligned, tuples-only output."""
        target = database if "=" in database else self.conninfo(database)
        proc = self._run([str(self.bin / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                          "-d", target, "-c", sql], server_user=False)
        return proc.stdout.strip()

    def create_database(self, name):
        """Creates a database and returns its conninfo."""
        self._run([str(self.bin / "createdb"), "-h", str(self.dir), "-p", str(self.port), "-U", SUPERUSER, name],
                  server_user=False)
        return self.conninfo(name)

    # -- replication -----------------------------------------------------------------------------------
    def make_standby(self, tcp=False):
        """A hot standby streaming from this server, made with pg_basebackup -R; closed with this server."""
        standby = PostgresServer(tcp=tcp, _basebackup_from=self)
        self._standbys.append(standby)
        return standby

    def current_lsn(self):
        return self.psql("SELECT pg_current_wal_lsn()")

    def wait_for_replay(self, primary, timeout=30):
        """Waits until this standby has replayed the primary's WAL up to the primary's current LSN."""
        target = primary.current_lsn()
        deadline = time.monotonic() + timeout
        while True:
            caught_up = self.psql(f"SELECT coalesce(pg_last_wal_replay_lsn() >= '{target}'::pg_lsn, false)")
            if caught_up == "t":
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"standby on port {self.port} did not replay up to {target} in {timeout}s"
                                   + self._log_tail())
            time.sleep(0.05)


_shared = None
_names = itertools.count(1)


def shared_server():
    """One server for a whole test program, started at first use and closed when the interpreter exits."""
    global _shared
    if _shared is None:
        _shared = PostgresServer()
        atexit.register(_shared.close)
    return _shared


def fresh_database(prefix="ocspkit"):
    """A new empty database on shared_server(); returns its conninfo."""
    return shared_server().create_database(f"{prefix}_{next(_names)}")
