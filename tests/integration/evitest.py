"""Shared harness for integration tests: start a real evid on a generated config, talk to its
management interface, and stop it. Each test module imports this (stdlib only).

Environment: EVI_BUILD_ROOT (default <repo>/build) locates core/evid and plugins/.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("EVI_BUILD_ROOT", os.path.join(REPO, "build"))
EVID = os.path.join(BUILD, "core", "evid")
PLUGINS = os.path.join(BUILD, "plugins")


def plugin_abi():
    """The plugin ABI version this tree declares ("MAJOR.MINOR", from plugin_api/evi_plugin.h)."""
    with open(os.path.join(REPO, "plugin_api", "evi_plugin.h")) as f:
        text = f.read()
    major = re.search(r"#define EVI_ABI_MAJOR (\d+)", text).group(1)
    minor = re.search(r"#define EVI_ABI_MINOR (\d+)", text).group(1)
    return "%s.%s" % (major, minor)


def free_port(kind=socket.SOCK_STREAM, host="127.0.0.1"):
    """A port that was free a moment ago on loopback."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def check_config(text, tmpdir=None):
    """Run `evid -c -f` on a config; returns (exit code, stderr text)."""
    tmpdir = tmpdir or tempfile.mkdtemp(prefix="evi-check-")
    path = os.path.join(tmpdir, "check.cfg")
    with open(path, "w") as f:
        f.write(text)
    p = subprocess.run([EVID, "-c", "-f", path], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stderr, path


class Evid:
    """A running evid. Use as a context manager, or call start()/stop().

    `config` is the config text; `mpath` and `mi_listen` lines are prepended unless the text
    sets them. `self.dir` is a fresh temporary directory (removed on stop unless the test
    failed and EVI_KEEP_TMP is set)."""

    def __init__(self, config, args=(), start_timeout=15, env=None, binary=None):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="evi-test-")
        self.config_text = config
        self.args = list(args)
        self.start_timeout = start_timeout
        self.env = env
        self.proc = None
        self.mi_port = None
        self.log_path = os.path.join(self.dir, "evid.log")
        self.cfg_path = os.path.join(self.dir, "evid.cfg")

    # -- life cycle --
    def start(self):
        text = self.config_text.replace("@DIR@", self.dir)
        head = []
        if "mpath" not in text:
            head.append('mpath = "%s"' % PLUGINS)
        if "mi_listen" not in text:
            self.mi_port = free_port()
            head.append('mi_listen = "127.0.0.1:%d"' % self.mi_port)
        else:
            for line in text.splitlines():
                s = line.strip()
                if s.startswith("mi_listen") and '"127.0.0.1:' in s:
                    self.mi_port = int(s.split('"')[1].rsplit(":", 1)[1])
                    break
        # Prepended lines must not shift the line numbers a test asserts: put them on line 1.
        if head:
            text = " ".join(head) + "\n" + text
        with open(self.cfg_path, "w") as f:
            f.write(text)
        self.log_file = open(self.log_path, "w")
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self.proc = subprocess.Popen([self.binary or EVID, "-f", self.cfg_path] + self.args,
                                     stdout=self.log_file, stderr=subprocess.STDOUT,
                                     cwd=self.dir, env=env)
        deadline = time.time() + self.start_timeout
        while time.time() < deadline:
            if "evid started" in self.log():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("evid exited with %s during start-up:\n%s"
                                   % (self.proc.returncode, self.log()))
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("evid did not start within %ss:\n%s" % (self.start_timeout, self.log()))

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stop evid; returns its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        rc = self.proc.returncode
        return rc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, text, timeout=5):
        """Wait until the log contains text; returns True when it did."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.log():
                return True
            time.sleep(0.02)
        return False

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if not os.environ.get("EVI_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- management interface --
    def http(self, method, path, body=None, headers=None, timeout=10):
        """One HTTP request to the MI; returns (status, headers dict, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.mi_port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def mi(self, method, params=None, id=1, headers=None):
        """A JSON-RPC call over POST /mi; returns the decoded response object."""
        req = {"jsonrpc": "2.0", "method": method, "id": id}
        if params is not None:
            req["params"] = params
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        status, _, body = self.http("POST", "/mi", json.dumps(req), h)
        return json.loads(body)


def wait_for(predicate, timeout=5, interval=0.02):
    """Poll predicate() until it returns something truthy; returns its last value."""
    deadline = time.time() + timeout
    value = predicate()
    while not value and time.time() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


class EvidTestCase(unittest.TestCase):
    """Base class: self.evid(config) starts evid and stops it at the end of the test."""

    def evid(self, config, **kw):
        e = Evid(config, **kw)
        e.start()
        self.addCleanup(self.stop_cleanly, e)
        return e

    def stop_cleanly(self, e):
        """The end of every test: an evid still running must stop on SIGTERM with exit code 0
        (a crash or a hang at shutdown fails the test). One the test stopped itself, or that
        exited on purpose, is not judged here."""
        running = e.alive()
        rc = e.stop()
        tail = "\n".join(e.log().splitlines()[-20:])
        e.__exit__(None, None, None)
        if running and rc != 0:
            self.fail("evid did not stop cleanly on SIGTERM: exit code %s; the log ends:\n%s"
                      % (rc, tail))
