"""Black-box harness for hridd: start the real server, talk HTTP to it.

A Server starts the hridd binary (env HRIDD, default build/san/hridd) on an
ephemeral loopback port, learns its URL from the line "hridd listening on
URL" it prints last on stdout (earlier lines, such as where a generated
admin key went, are kept in startup_lines), and on exit sends SIGTERM and
checks that hridd exited with 0.  A sanitizer report makes hridd exit
non-zero, so every test that uses a Server also checks for memory errors;
the failure shows hridd's stderr.

Unless the arguments name a database (--db), each Server gets a fresh one
in a temporary directory, removed when the Server stops; pass db=PATH to
keep a database across restarts.

Python 3 standard library only.
"""

import http.client
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


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
                self._tmpdir = tempfile.mkdtemp(prefix="hridd-test-")
                self.db = os.path.join(self._tmpdir, "hrid.db")
            args = ["--db", self.db] + args
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
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
            self.db = None
        if check and code != 0:
            raise ServerError(f"hridd exited with {code}, expected 0\n"
                              f"--- hridd stderr ---\n{self.diagnostics()}")

    def __del__(self):
        if getattr(self, "_tmpdir", None):
            shutil.rmtree(self._tmpdir, ignore_errors=True)

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
