"""evid as a user meets it: config checks with file:line:col errors, module loading errors,
start-up and clean shutdown."""
import os
import re
import signal
import tempfile
import unittest

import evitest

MPATH = 'mpath = "%s"\n' % evitest.PLUGINS


class ConfigCheck(unittest.TestCase):
    def check(self, text):
        rc, err, path = evitest.check_config(text)
        return rc, err, path

    def test_a_good_config_checks_ok(self):
        rc, err, path = self.check(MPATH + 'loadmodule "event_datagram.so"\n'
                                   'modparam("event_datagram", "payload_format", "text")\n')
        self.assertEqual(rc, 0, err)
        self.assertIn("configuration OK", err)

    def test_a_syntax_error_names_file_line_and_column(self):
        rc, err, path = self.check(MPATH + 'loadmodule "event_datagram.so"\nmodparam("a", "b"\n')
        self.assertNotEqual(rc, 0)
        self.assertRegex(err, r"^%s:3:\d+: error: " % path)

    def test_an_unknown_directive_is_an_error(self):
        rc, err, path = self.check(MPATH + 'frobnicate "x"\n')
        self.assertNotEqual(rc, 0)
        self.assertTrue(err.startswith(path + ":2:1: error: "), err)

    def test_an_unknown_global_parameter_lists_the_known_ones(self):
        rc, err, path = self.check(MPATH + 'colour = 3\n')
        self.assertNotEqual(rc, 0)
        self.assertTrue(err.startswith(path + ":2:1: error: unknown global parameter 'colour'"),
                        err)
        self.assertIn("log_level", err)

    def test_an_unknown_module_lists_the_places_searched(self):
        rc, err, path = self.check(MPATH + 'loadmodule "event_nope.so"\n')
        self.assertNotEqual(rc, 0)
        self.assertTrue(err.startswith(path + ":2:1: error: module 'event_nope.so' not found; "
                                       "searched:"), err)
        self.assertIn(os.path.join(evitest.PLUGINS, "event_nope", "event_nope.so"), err)

    def test_a_module_loaded_twice_is_an_error(self):
        rc, err, path = self.check(MPATH + 'loadmodule "event_datagram.so"\n'
                                   'loadmodule "event_datagram.so"\n')
        self.assertNotEqual(rc, 0)
        self.assertTrue(err.startswith(path + ":3:1: error: module 'event_datagram' is already "
                                       "loaded"), err)

    def test_a_bad_modparam_value_says_what_was_expected(self):
        rc, err, path = self.check(MPATH + 'loadmodule "event_flatstore.so"\n'
                                   'modparam("event_flatstore", "max_open_sockets", "lots")\n')
        self.assertNotEqual(rc, 0)
        self.assertTrue(err.startswith(path + ":3:1: error: modparam: event_flatstore parameter "
                                       "'max_open_sockets': expected an integer"), err)

    def test_an_unknown_modparam_lists_the_valid_ones(self):
        rc, err, path = self.check(MPATH + 'loadmodule "event_flatstore.so"\n'
                                   'modparam("event_flatstore", "colour", 1)\n')
        self.assertNotEqual(rc, 0)
        self.assertIn(":3:1: error: modparam: module 'event_flatstore' has no parameter "
                      "'colour' (its parameters: ", err)
        self.assertIn("max_open_sockets", err)

    def test_a_modparam_before_its_loadmodule_says_so(self):
        rc, err, path = self.check(MPATH + 'modparam("event_flatstore", "delimiter", ";")\n'
                                   'loadmodule "event_flatstore.so"\n')
        self.assertNotEqual(rc, 0)
        self.assertIn(":2:1: error: modparam: no loaded module matches 'event_flatstore'", err)
        self.assertIn("modparam must come after the module's loadmodule", err)

    def test_a_missing_config_file_is_reported(self):
        rc, err, path = self.check("")
        os.unlink(path)
        import subprocess
        p = subprocess.run([evitest.EVID, "-c", "-f", path], capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(path, p.stderr)


class DefaultConfig(unittest.TestCase):
    def test_the_default_config_of_scripts_run_checks_ok(self):
        import subprocess
        cfg = os.path.join(evitest.REPO, "scripts", "evid.cfg")
        p = subprocess.run([evitest.EVID, "-c", "-f", cfg], capture_output=True, text=True,
                           cwd=tempfile.mkdtemp(prefix="evi-default-"))
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_the_default_config_writes_heartbeats_into_a_file(self):
        # scripts/evid.cfg with the heartbeat every second instead of every 5, on a free port.
        with open(os.path.join(evitest.REPO, "scripts", "evid.cfg")) as f:
            text = f.read()
        port = evitest.free_port()
        text = text.replace("timer_route[heartbeat, 5]", "timer_route[heartbeat, 1]")
        text = text.replace('mi_listen = "127.0.0.1:8888"', 'mi_listen = "127.0.0.1:%d"' % port)
        with evitest.Evid(text) as e:
            log = os.path.join(e.dir, "evid-events.log")
            ok = evitest.wait_for(lambda: os.path.exists(log) and
                                  open(log).read().count("\n") >= 2, timeout=10)
            self.assertTrue(ok, e.log())
            lines = open(log).read().splitlines()
            self.assertRegex(lines[0], r"^E_EVI_HEARTBEAT,alive,\d{10}$")


class Lifecycle(evitest.EvidTestCase):
    def test_version_and_help(self):
        import subprocess
        v = subprocess.run([evitest.EVID, "-V"], capture_output=True, text=True)
        self.assertEqual(v.returncode, 0)
        self.assertRegex(v.stdout, r"^evid \d+\.\d+\.\d+ \(plugin ABI %s\)"
                         % re.escape(evitest.plugin_abi()))
        h = subprocess.run([evitest.EVID, "-h"], capture_output=True, text=True)
        self.assertIn("-c", h.stdout)

    def test_sigterm_and_sigint_stop_it_cleanly(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            e = self.evid('loadmodule "event_datagram.so"\n')
            self.assertTrue(e.alive())
            self.assertEqual(e.stop(sig), 0)
            self.assertIn("evid stopped", e.log())

    def test_every_thread_but_the_main_one_blocks_the_shutdown_signals(self):
        # A thread that left SIGTERM unblocked could be picked to take it, with the default
        # action: evid killed without its shutdown. The async event route's worker starts while
        # the script compiles, before evid reaches sigwait.
        e = self.evid('loadmodule "event_route.so"\n'
                      'startup_route {\n    raise_event("E_X");\n}\n'
                      'event_route[E_X] {\n    xlog("L_INFO", "got E_X\\n");\n}\n')
        pid = e.proc.pid
        shutdown = (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGINT - 1)) | \
            (1 << (signal.SIGHUP - 1))
        others = [t for t in os.listdir("/proc/%d/task" % pid) if int(t) != pid]
        self.assertGreaterEqual(len(others), 3)  # the route's worker and the runtime's
        for t in others:
            with open("/proc/%d/task/%s/status" % (pid, t)) as f:
                mask = int(re.search(r"SigBlk:\s*([0-9a-f]+)", f.read()).group(1), 16)
            self.assertEqual(mask & shutdown, shutdown, "thread %s: SigBlk %x" % (t, mask))

    def test_a_bad_log_level_on_the_command_line_is_refused(self):
        import subprocess
        p = subprocess.run([evitest.EVID, "-l", "loud", "-c", "-f", "/dev/null"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("bad log level 'loud'", p.stderr)


if __name__ == "__main__":
    unittest.main()
