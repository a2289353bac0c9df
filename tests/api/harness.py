"""Black-box harness for hridd: start the real server, talk HTTP to it.

A Server starts the hridd binary (env HRIDD, default build/san/hridd) on an
ephemeral loopback port, learns its URL from the line "hridd listening on
URL" it prints last on stdout (earlier lines, such as where a generated
admin key went, are kept in startup_lines), and on exit sends SIGTERM and
checks that hridd exited with 0.  A sanitizer report makes hridd exit
non-zero, so every test that uses a Server also checks for memory errors;
the failure shows hridd's stderr.

Unless the arguments name a database (--db), each Server gets a fresh one,
removed when the Server stops: a file in a temporary directory, or, when
the environment variable HRID_TEST_PG holds a PostgreSQL cluster's base uri
(postgresql://hrid@127.0.0.1:PORT/, as "tests/pgcluster.py run" sets it), a
new database on that cluster with its key files in a temporary directory
(--keys).  s.db is the database argument either way and s.key_path(NAME)
where key file NAME (admin-key, log-key, ...) is kept.  To keep a database
across restarts, allocate it with persistent_db() and pass db= to each
Server; db_args(db) gives the arguments for running hridd by hand.

Python 3 standard library only.
"""

import contextlib
import http.client
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0

sys.path.insert(0, os.path.join(ROOT, "tests"))
import pgcluster  # noqa: E402  (tests/pgcluster.py)

# The key directory of each PostgreSQL database the harness made: hridd
# needs --keys with a database server, and a restart must find the keys
# the first start wrote.
_key_dirs = {}


class Skip(Exception):
    """Raised by a test that does not apply here (tests/api/run.py prints
    "SKIP name: reason" and counts it apart from passes and failures)."""


def pg_base():
    """The PostgreSQL cluster the tests run on (HRID_TEST_PG), or None for SQLite."""
    return os.environ.get("HRID_TEST_PG") or None


def skip_on_pg(reason):
    """Skips the calling test when it runs on PostgreSQL."""
    if pg_base():
        raise Skip(reason)


def _new_db():
    """A fresh database: (db argument, temporary directory).  The directory
    holds the SQLite file, or is the PostgreSQL database's key directory."""
    tmp = tempfile.mkdtemp(prefix="hridd-test-")
    if pg_base() is None:
        return os.path.join(tmp, "hrid.db"), tmp
    try:
        uri = pgcluster.create_database(pg_base())
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _key_dirs[uri] = tmp
    return uri, tmp


def _drop_db(db, tmp):
    if _key_dirs.pop(db, None) is not None:
        pgcluster.drop_database(db)
    shutil.rmtree(tmp, ignore_errors=True)


def keys_of(db):
    """The --keys directory hridd is given for db (None: next to the file)."""
    return _key_dirs.get(db)


def db_args(db):
    """hridd's arguments for database db: --db, and --keys when it needs one."""
    keys = keys_of(db)
    return ["--db", db] + (["--keys", keys] if keys else [])


@contextlib.contextmanager
def persistent_db():
    """A database that outlives the Servers started on it (pass db= to each),
    removed at the end of the with block: a file in a temporary directory,
    or a PostgreSQL database and its key directory."""
    db, tmp = _new_db()
    try:
        yield db
    finally:
        _drop_db(db, tmp)


def hridd_path():
    path = os.environ.get("HRIDD", "build/san/hridd")
    if not os.path.isabs(path) and not os.path.exists(path):
        path = os.path.join(ROOT, path)
    return path


class ServerError(AssertionError):
    pass


class Server:
    """Context manager: `with Server() as s: status, hdrs, body = s.get("/healthz")`."""

    def __init__(self, *args, env=None, db=None):
        self.args = list(args)
        self.env = env
        self.db = db
        self.keys = None
        self._tmpdir = None
        self.startup_lines = []
        self.proc = None
        self.url = None
        self.host = None
        self.port = None
        self.returncode = None
        self._stderr = None
        self._stderr_text = None

    # ---- lifecycle ------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop(check=exc_type is None)
        return False

    def start(self):
        binary = hridd_path()
        if not os.path.exists(binary):
            raise ServerError(f"hridd binary not found at {binary} (set HRIDD)")
        # stderr goes to a file: a pipe nobody reads would block hridd's
        # request log once the pipe buffer fills.
        self._stderr = tempfile.TemporaryFile()
        env = dict(os.environ)
        # Sanitizer reports must fail the run (exit code) and be readable.
        env.setdefault("ASAN_OPTIONS", "abort_on_error=0:detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        if self.env:
            for k, v in self.env.items():
                if v is None:
                    env.pop(k, None)
                else:
                    env[k] = v
        args = list(self.args)
        if "--db" not in args and not any(a.startswith("--db=") for a in args):
            if self.db is None:
                self.db, self._tmpdir = _new_db()
            args = db_args(self.db) + args
        self.keys = keys_of(self.db)
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE, stderr=self._stderr, env=env)
        prefix = "hridd listening on "
        self.startup_lines = []
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            line = self._read_line(max(0.0, deadline - time.monotonic()))
            if line.startswith(prefix) or not line.endswith("\n"):
                break
            self.startup_lines.append(line.rstrip("\n"))
        if not line.startswith(prefix):
            self.proc.kill()
            self.proc.wait()
            raise ServerError(
                f"hridd did not report its address within {START_TIMEOUT:.0f} s "
                f"(stdout {line!r}, exit {self.proc.returncode})\n"
                f"--- hridd stderr ---\n{self.stderr()}")
        self.url = line[len(prefix):].strip()
        parsed = urllib.parse.urlsplit(self.url)
        self.host, self.port = parsed.hostname, parsed.port

    def _read_line(self, timeout):
        fd = self.proc.stdout.fileno()
        data = b""
        deadline = time.monotonic() + timeout
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                break
            chunk = os.read(fd, 1)
            if not chunk:
                break
            data += chunk
        return data.decode("utf-8", "replace")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=STOP_TIMEOUT):
        """Waits for hridd to exit; returns its exit status."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise ServerError(f"hridd did not exit within {timeout:.0f} s\n"
                              f"--- hridd stderr ---\n{self.stderr()}")
        return self.returncode

    def stop(self, check=True):
        """SIGTERM, wait, and (if check) assert a clean exit 0."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.wait()
        self.proc.stdout.close()
        self.proc = None
        if self._tmpdir is not None:
            _drop_db(self.db, self._tmpdir)
            self._tmpdir = None
            self.db = None
        if check and code != 0:
            raise ServerError(f"hridd exited with {code}, expected 0\n"
                              f"--- hridd stderr ---\n{self.diagnostics()}")

    def __del__(self):
        if getattr(self, "_tmpdir", None):
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    def key_path(self, name):
        """Where hridd keeps key file name ("admin-key", "log-key",
        "platform-key", "demo-keys"): DIR/name with --keys DIR, else
        next to the database file, <db>.name."""
        if self.keys is not None:
            return f"{self.keys}/{name}"
        return f"{self.db}.{name}"

    def stderr(self):
        """Everything hridd wrote on stderr so far."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def diagnostics(self, lines=80):
        """hridd's stderr without the per-request log lines (the last few
        of those kept), for failure messages: sanitizer reports and error
        lines are what matter."""
        text = self.stderr().splitlines()
        reqs = [l for l in text if l.startswith("ts=") and " method=" in l
                and " level=" not in l]
        other = [l for l in text if l not in reqs]
        out = reqs[-5:] + ["..."] + other[-lines:] if len(reqs) > 5 else reqs + other[-lines:]
        return "\n".join(out)

    # ---- requests -------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=10,
                key=None):
        """Sends one request on a fresh connection.

        body may be bytes, str, or any other value (sent as JSON); key, when
        given, is sent as "Authorization: Bearer KEY".  Returns (status,
        headers, body) where headers is a dict with lower-case names and
        body is the parsed JSON when the reply is JSON, else bytes.
        """
        headers = dict(headers or {})
        if key is not None:
            headers["Authorization"] = "Bearer " + key
        if body is not None and not isinstance(body, (bytes, bytearray, str)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return decode_response(resp)
        except (ConnectionError, http.client.HTTPException) as exc:
            # A crash is the likeliest cause: say so, with the report.
            time.sleep(0.5)
            if self.proc is not None and self.proc.poll() is not None:
                raise ServerError(
                    f"{method} {path}: hridd died (exit {self.proc.returncode})\n"
                    f"--- hridd stderr ---\n{self.diagnostics()}") from exc
            raise
        finally:
            conn.close()

    def get(self, path, headers=None, key=None):
        return self.request("GET", path, headers=headers, key=key)

    def post(self, path, body=None, headers=None, key=None):
        return self.request("POST", path, body=body, headers=headers, key=key)


def decode_response(resp):
    data = resp.read()
    hdrs = {k.lower(): v for k, v in resp.getheaders()}
    if hdrs.get("content-type", "").startswith("application/json") and data:
        return resp.status, hdrs, json.loads(data)
    return resp.status, hdrs, data


def quote(s):
    """Percent-encodes a path segment (every byte outside unreserved)."""
    return urllib.parse.quote(s, safe="")


def assert_error(body, code, status=None, got_status=None, field=None):
    """Checks the DESIGN §7 error shape and returns the "error" member."""
    if status is not None:
        assert got_status == status, f"status {got_status}, expected {status}: {body!r}"
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), \
        f"not a JSON error body: {body!r}"
    err = body["error"]
    assert err.get("code") == code, f"error code {err.get('code')!r}, expected {code!r}: {body!r}"
    assert isinstance(err.get("message"), str) and err["message"], f"no message: {body!r}"
    if field is not None:
        assert err.get("field") == field, f"field {err.get('field')!r}, expected {field!r}"
    return err
