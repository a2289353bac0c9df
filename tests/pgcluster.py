#!/usr/bin/env python3
"""A throw-away PostgreSQL cluster for tests and benchmarks.

    with Cluster() as c:                  # initdb + postgres on a free port
        uri = c.create_db()               # postgresql://hrid@127.0.0.1:PORT/hrid_t...
        c.psql(name, "select 1")

The cluster lives in a temporary directory (data, unix socket, server log)
and listens on 127.0.0.1 only; its one superuser, hrid, needs no password
(trust), which is why it must never listen anywhere else.  Tests pass
durable=False (no fsync: a crash of the machine loses the cluster, which
is thrown away anyway); benchmarks pass durable=True to measure what a
real deployment pays.  PostgreSQL refuses to run as root, so as root the
server runs as the postgres system user that Debian's package creates.
stop() (also run at exit) kills the server and removes the directory.

As a command:

    python3 tests/pgcluster.py available        # exit 0, or the reason and 1
    python3 tests/pgcluster.py run [--durable] -- CMD [ARG...]

"run" starts a cluster, runs CMD with HRID_TEST_PG set to the cluster's
base uri (postgresql://hrid@127.0.0.1:PORT/), stops the cluster and exits
with CMD's status.  create_database(base, name) makes a database from such
a base uri without a Cluster object (tests/api/harness.py uses it).

Python 3 standard library only.
"""

import atexit
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

USER = "hrid"             # the cluster's superuser, made by initdb
RUN_AS = "postgres"       # the system user the server runs as under root
START_TIMEOUT = 30.0      # initdb is not counted; a cold start takes ~1 s

_names = itertools.count(1)


def bindir():
    """The bin directory of the highest PostgreSQL version installed, or None."""
    found = []
    for d in glob.glob("/usr/lib/postgresql/*/bin"):
        v = os.path.basename(os.path.dirname(d))
        if all(os.access(os.path.join(d, b), os.X_OK)
               for b in ("initdb", "postgres", "pg_ctl", "psql")):
            found.append((tuple(int(x) for x in v.split(".") if x.isdigit()), d))
    return max(found)[1] if found else None


def available():
    """(True, "") when a cluster can be started here, else (False, why)."""
    if bindir() is None:
        return False, ("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin "
                       "(scripts/install-deps.sh test installs them)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            return False, f"running as root and there is no '{RUN_AS}' user to run the server as"
        if shutil.which("runuser") is None:
            return False, "running as root and runuser is missing"
    return True, ""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(base, dbname, sql):
    """Runs sql on database dbname of the cluster at base uri; returns stdout
    (unaligned, tuples only).  Raises RuntimeError with psql's message."""
    tool = os.path.join(bindir() or "/usr/bin", "psql")
    p = subprocess.run([tool, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        "-d", base.rstrip("/") + "/" + dbname, "-c", sql],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"psql on {dbname}: {sql!r}: {p.stderr.strip()}")
    return p.stdout


def create_database(base, name=None):
    """Creates a fresh database on the cluster at base uri
    (postgresql://hrid@127.0.0.1:PORT/) and returns its uri.  Generated
    names carry the process id, so processes sharing a cluster do not clash."""
    name = name or f"hrid_t{next(_names)}_{os.getpid()}"
    psql(base, "postgres", f'CREATE DATABASE "{name}"')
    return base.rstrip("/") + "/" + name


def drop_database(uri):
    """Drops the database of uri, closing connections left to it."""
    base, name = uri.rsplit("/", 1)
    psql(base, "postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Cluster:
    """A running PostgreSQL cluster in a temporary directory (see the module)."""

    def __init__(self, durable=False):
        ok, why = available()
        if not ok:
            raise RuntimeError("cannot start PostgreSQL: " + why)
        self.bin = bindir()
        self.dir = tempfile.mkdtemp(prefix="hrid-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        self.port = None
        self.proc = None
        self._as = []
        atexit.register(self.stop)
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", RUN_AS, "--"]
            u = pwd.getpwnam(RUN_AS)
            os.chown(self.dir, u.pw_uid, u.pw_gid)
        try:
            self._run("initdb", "-D", self.data, "--auth=trust", "-U", USER,
                      "--encoding=UTF8", "--locale=C",
                      *([] if durable else ["--no-sync"]))
            self._start(durable)
        except BaseException:
            self.stop()
            raise

    def _run(self, tool, *args):
        p = subprocess.run([*self._as, os.path.join(self.bin, tool), *args],
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise RuntimeError(f"{tool} failed ({p.returncode}): {p.stderr.strip()}")
        return p.stdout

    def _start(self, durable, port=None):
        sync = "on" if durable else "off"
        self.durable = durable
        self.port = port or free_port()
        settings = {"listen_addresses": "127.0.0.1", "port": str(self.port),
                    "unix_socket_directories": self.dir,
                    "fsync": sync, "synchronous_commit": sync,
                    "full_page_writes": sync,
                    # Two-node tests and benchmarks run several hridds, each
                    # with a connection per worker thread.
                    "max_connections": "300", "shared_buffers": "128MB"}
        args = [a for k, v in settings.items() for a in ("-c", f"{k}={v}")]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [*self._as, os.path.join(self.bin, "postgres"), "-D", self.data, *args],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            p = subprocess.run([os.path.join(self.bin, "pg_isready"), "-q",
                                "-h", "127.0.0.1", "-p", str(self.port),
                                "-U", USER, "-d", "postgres"])
            if p.returncode == 0:
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"postgres did not start (exit {self.proc.poll()}):\n"
                                   + self.server_log())
            time.sleep(0.1)

    def restart(self, down=0.0):
        """Stops the server (fast shutdown: clients are disconnected) and
        starts it again on the same port after down seconds, as an
        operator's restart or a failover does to hridd."""
        subprocess.run([*self._as, os.path.join(self.bin, "pg_ctl"), "stop",
                        "-D", self.data, "-m", "fast", "-w", "-t", "30"],
                       capture_output=True, timeout=60)
        self.proc.wait(30)
        time.sleep(down)
        self._start(self.durable, self.port)

    def server_log(self):
        """The server's log so far (for failure messages)."""
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    @property
    def base(self):
        """The cluster's base uri, postgresql://hrid@127.0.0.1:PORT/."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/"

    def uri(self, name):
        return self.base + name

    def create_db(self, name=None):
        """Creates a fresh database; returns its uri."""
        return create_database(self.base, name)

    def psql(self, dbname, sql):
        """Runs sql on dbname; returns psql's unaligned, tuples-only output."""
        return psql(self.base, dbname, sql)

    def stop(self):
        """Stops the server at once (the data is thrown away) and removes
        the directory.  Safe to call more than once."""
        if self.proc is not None:
            if self.proc.poll() is None:
                # pg_ctl signals the postmaster itself, not runuser.
                subprocess.run([*self._as, os.path.join(self.bin, "pg_ctl"), "stop",
                                "-D", self.data, "-m", "immediate", "-w", "-t", "10"],
                               capture_output=True, timeout=30)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def main(argv):
    usage = "usage: pgcluster.py available | run [--durable] -- CMD [ARG...]"
    if argv[1:2] == ["available"]:
        ok, why = available()
        if not ok:
            print(why)
        return 0 if ok else 1
    if argv[1:2] == ["run"]:
        rest = argv[2:]
        durable = "--durable" in rest[:rest.index("--")] if "--" in rest else False
        cmd = rest[rest.index("--") + 1:] if "--" in rest else []
        if not cmd:
            print(usage, file=sys.stderr)
            return 2
        with Cluster(durable=durable) as c:
            env = dict(os.environ, HRID_TEST_PG=c.base)
            return subprocess.call(cmd, env=env)
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
