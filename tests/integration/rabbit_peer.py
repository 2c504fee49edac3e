"""The tests' RabbitMQ side: an isolated broker on loopback (scripts/rabbitmq-broker), an AMQP
client (the rabbit-peer executable built from tests/unit/rabbitmq), and a test CA made with
the openssl command line. Stdlib only."""
import os
import shutil
import subprocess
import tempfile

from evitest import BUILD, REPO, free_port

BROKER_SCRIPT = os.path.join(REPO, "scripts", "rabbitmq-broker")
PEER = os.path.join(BUILD, "tests", "unit", "rabbitmq", "rabbit-peer")


def available():
    """None when a broker can run here, else the reason it cannot."""
    if not os.path.exists("/usr/lib/rabbitmq/bin/rabbitmq-server"):
        return "rabbitmq-server is not installed (scripts/setup installs it)"
    if not os.path.exists(PEER):
        return "rabbit-peer is not built (%s)" % PEER
    return None


class Message:
    def __init__(self, line):
        dm, self.content_type, self.exchange, self.routing_key, self.body = line.split("\t", 4)
        self.delivery_mode = int(dm)

    def __repr__(self):
        return "Message(%r, dm=%d, ct=%r, ex=%r, rk=%r)" % (
            self.body, self.delivery_mode, self.content_type, self.exchange, self.routing_key)


class Broker:
    """One broker with its own data directory; `port` is AMQP, `tls_port` AMQPS (optional)."""

    def __init__(self, tls_files=None):
        self.dir = tempfile.mkdtemp(prefix="evi-rabbit-")
        self.port = free_port()
        self.tls_port = None
        self.extra = None
        if tls_files:
            self.tls_port = free_port()
            self.extra = os.path.join(self.dir, "extra.conf")
            ca, cert, key = tls_files
            with open(self.extra, "w") as f:
                f.write("listeners.ssl.default = 127.0.0.1:%d\n" % self.tls_port)
                f.write("ssl_options.cacertfile = %s\n" % ca)
                f.write("ssl_options.certfile = %s\n" % cert)
                f.write("ssl_options.keyfile = %s\n" % key)
                f.write("ssl_options.verify = verify_none\n")
                f.write("ssl_options.fail_if_no_peer_cert = false\n")
        self.data = os.path.join(self.dir, "node")
        self.started_once = False

    def _script(self, *args, timeout=90):
        p = subprocess.run([BROKER_SCRIPT] + list(args), capture_output=True, text=True,
                           timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("rabbitmq-broker %s failed (%d): %s%s"
                               % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p.stdout

    def start(self):
        if self.started_once:
            self._script("start", self.data)
        else:
            args = ["start", self.data, str(self.port)]
            if self.extra:
                args.append(self.extra)
            self._script(*args)
            self.started_once = True

    def stop(self):
        if self.started_once:
            self._script("stop", self.data)

    def kill(self):
        """Crash the broker (SIGKILL): what it had not written to disk is gone."""
        self._script("kill", self.data)

    def pid(self):
        with open(os.path.join(self.data, "pid")) as f:
            return int(f.read().strip())

    def running(self):
        return subprocess.run([BROKER_SCRIPT, "running", self.data]).returncode == 0

    def ctl(self, *args):
        return self._script("ctl", self.data, *args, timeout=60)

    def remove(self):
        """Stop the broker and delete its directory; safe to call twice."""
        if not os.path.isdir(self.dir):
            return
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- AMQP client --
    def peer(self, *ops, vhost="/", timeout=60):
        p = subprocess.run([PEER, "--port", str(self.port), "--vhost", vhost] + list(ops),
                           capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("rabbit-peer %s: %s" % (" ".join(ops), p.stderr.strip()))
        return p.stdout

    def consume(self, queue, n, idle_ms=1000, vhost="/"):
        """Up to n messages from queue (removed); stops after idle_ms without one."""
        out = self.peer("consume", queue, str(n), str(idle_ms), vhost=vhost)
        return [Message(l) for l in out.splitlines() if l]

    def count(self, queue, vhost="/"):
        return int(self.peer("count", queue, vhost=vhost).strip())


def make_test_ca(directory):
    """A CA and a server certificate for localhost / 127.0.0.1; returns (ca, cert, key)."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=directory,
                       timeout=60)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=EVI test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost")
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext")
    # A second CA that signed nothing of the broker's: verification against it must fail.
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out",
        "other-ca.pem", "-days", "2", "-subj", "/CN=EVI other CA")
    for name in ("ca.key", "server.key", "other.key"):
        os.chmod(os.path.join(directory, name), 0o644)  # the broker reads it
    return tuple(os.path.join(directory, n) for n in ("ca.pem", "server.pem", "server.key"))
