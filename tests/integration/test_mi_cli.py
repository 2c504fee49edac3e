"""scripts/evi-cli against a running evid: named and positional params, JSON values, pretty
output, exit codes, Unix sockets and the token."""
import json
import os
import subprocess
import sys
import unittest

from evitest import REPO, EvidTestCase, free_port
from mi_peer import UdpSink

CLI = os.path.join(REPO, "scripts", "evi-cli")
BASE = 'loadmodule "event_datagram.so"\nroute[p] { raise_event("E_MI_A"); }\n'


class EviCli(EvidTestCase):
    def cli(self, *args, url=None, env=None):
        argv = [sys.executable, CLI]
        if url is not False:
            argv += ["--url", url or "http://127.0.0.1:%d/mi" % self.e.mi_port]
        full_env = dict(os.environ)
        full_env.update(env or {})
        return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=30,
                              env=full_env)

    def test_subscribe_and_raise_with_a_json_value_deliver_the_event(self):
        self.e = self.evid(BASE)
        sink = UdpSink()
        self.addCleanup(sink.close)
        p = self.cli("event_subscribe", "event=E_MI_A", "socket=" + sink.socket, "expire=60")
        self.assertEqual((p.returncode, p.stdout), (0, "OK\n"), p.stderr)
        p = self.cli("raise_event", "event=E_MI_A", 'params={"ip":"10.0.0.9","n":5}')
        self.assertEqual((p.returncode, p.stdout), (0, "OK\n"), p.stderr)
        self.assertEqual(sink.recv(),
                         '{"jsonrpc":"2.0","method":"E_MI_A","params":{"ip":"10.0.0.9","n":5}}')

    def test_results_are_printed_as_indented_json(self):
        self.e = self.evid(BASE)
        p = self.cli("which", "command=raise_event")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, json.dumps([["event"], ["event", "params"]], indent=4) + "\n")

    def test_positional_values(self):
        self.e = self.evid(BASE)
        p = self.cli("which", "event_subscribe")
        self.assertEqual(json.loads(p.stdout), [["event", "socket"], ["event", "socket", "expire"]])

    def test_an_error_reply_exits_1_with_the_message_on_stderr(self):
        self.e = self.evid(BASE)
        p = self.cli("raise_event", "event=E_NOPE")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stdout, "")
        self.assertEqual(p.stderr, "error 404: Event not registered\n")
        p = self.cli("event_subscribe", "event=E_MI_A", "socket=udp:127.0.0.1:9", "expire=-1")
        self.assertEqual((p.returncode, p.stderr),
                         (1, "error -32602: Invalid params (Negative expire value)\n"))

    def test_no_server_exits_2(self):
        self.e = None
        p = self.cli("version", url="http://127.0.0.1:%d/mi" % free_port())
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot talk to evid", p.stderr)

    def test_unix_socket_and_token(self):
        port = free_port()
        self.e = self.evid(BASE + 'mi_listen = "127.0.0.1:%d"\nmi_listen = "unix:@DIR@/mi.sock"\n'
                           'mi_auth_token = "tok"\n' % port)
        path = os.path.join(self.e.dir, "mi.sock")
        p = self.cli("--unix", path, "version", url=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("401", p.stderr)
        p = self.cli("--unix", path, "version", url=False, env={"EVI_MI_TOKEN": "tok"})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(json.loads(p.stdout)["Server"].startswith("evid ("))


if __name__ == "__main__":
    unittest.main()
