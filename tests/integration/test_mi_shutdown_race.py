"""Shutdown while MI connections arrive. evid is started and stopped with SIGTERM
200 times in a row; during each stop, clients keep connecting to its TCP and Unix listeners.
Every stop must end with exit code 0. In the ThreadSanitizer build a data race makes evid exit
with 66 (and leaves a report that scripts/test counts): the acceptors' close() used to run on
one runtime thread while the accept handler re-armed the accept on another."""
import collections
import errno
import os
import signal
import socket
import threading
import time
import unittest

from evitest import Evid, free_port

ROUNDS = int(os.environ.get("EVI_SHUTDOWN_ROUNDS", "200"))
# The accept handler pauses this long before re-arming (a test hook of evid's): a close on
# another thread then lands inside the re-arm's window whenever stop() comes mid-accept.
PAUSE_US = 2000
RING = 256  # connections each client keeps open


class Knocker:
    """Threads that open connections to the MI as fast as they can (non-blocking connects, the
    oldest of RING closed as each new one opens), so that evid's accept loop always has one to
    take, until stopped."""

    def __init__(self, port, unix_path):
        self.port = port
        self.unix_path = unix_path
        self.stopping = threading.Event()
        self.connects = [0, 0]
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(2)]
        for t in self.threads:
            t.start()

    def run(self, i):
        family, where = ((socket.AF_INET, ("127.0.0.1", self.port)) if i == 0
                         else (socket.AF_UNIX, self.unix_path))
        ring = collections.deque()
        deadline = time.monotonic() + 30  # bounded even if nobody stops it
        try:
            while not self.stopping.is_set() and time.monotonic() < deadline:
                s = socket.socket(family, socket.SOCK_STREAM)
                s.setblocking(False)
                if s.connect_ex(where) in (0, errno.EINPROGRESS):
                    self.connects[i] += 1
                    ring.append(s)
                else:
                    s.close()
                    time.sleep(0.0005)  # a full backlog, or not listening: a breath
                while len(ring) > RING:
                    ring.popleft().close()
        finally:
            for s in ring:
                s.close()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(5)
        return sum(self.connects)


class MiShutdownRaceTest(unittest.TestCase):
    def test_sigterm_while_mi_connections_arrive_stops_cleanly_every_time(self):
        failures = []
        total_connects = 0
        for n in range(ROUNDS):
            port = free_port()
            e = Evid('workers = 2\nlog_level = 2\nmi_listen = "127.0.0.1:%d"\n'
                     'mi_listen = "unix:@DIR@/mi.sock"\n' % port,
                     env={"EVI_TEST_ACCEPT_PAUSE_US": str(PAUSE_US)})
            e.start()
            knock = Knocker(port, os.path.join(e.dir, "mi.sock"))
            # Let connections flow, then stop while they keep coming.
            deadline = time.monotonic() + 2
            while sum(knock.connects) < 50 and time.monotonic() < deadline:
                time.sleep(0.001)
            rc = e.stop(signal.SIGTERM, timeout=30)
            total_connects += knock.stop()
            if rc != 0:
                failures.append((n, rc, "\n".join(e.log().splitlines()[-5:])))
            e.__exit__(None, None, None)
        self.assertGreater(total_connects, ROUNDS * 10, "the clients hardly connected")
        self.assertEqual(failures, [], "%d of %d stops did not exit 0 (first: %r)"
                         % (len(failures), ROUNDS, failures[:1]))


if __name__ == "__main__":
    unittest.main()
