"""Config input limits (issue 8): `evid -c -f FILE` on hostile files — huge, deeply nested,
long lines, NUL bytes, invalid UTF-8 — exits 1 with one clean `FILE:LINE:COL: error: …` line,
in bounded time, never a crash (a signal, a sanitizer report) or a hang."""
import os
import re
import subprocess
import tempfile
import time
import unittest

from evitest import EVID, PLUGINS, free_port

# Generous: an ASan build on a loaded CI machine is slow; a hang or a quadratic blow-up is not.
LIMIT_S = 20


class ConfigLimitsTest(unittest.TestCase):
    def check(self, data):
        """Run `evid -c -f` on the bytes; returns (exit code, stderr text, path, seconds)."""
        d = tempfile.mkdtemp(prefix="evi-rel-cfg-")
        path = os.path.join(d, "hostile.cfg")
        with open(path, "wb") as f:
            f.write(data)
        self.addCleanup(lambda: (os.unlink(path), os.rmdir(d)))
        t0 = time.monotonic()
        p = subprocess.run([EVID, "-c", "-f", path], capture_output=True, timeout=LIMIT_S * 3)
        took = time.monotonic() - t0
        return p.returncode, p.stderr.decode("utf-8", "replace"), path, took

    def assert_clean_error(self, data, line=None, what=None):
        rc, err, path, took = self.check(data)
        self.assertEqual(rc, 1, "exit %s (a negative code is a signal):\n%s" % (rc, err[-2000:]))
        self.assertNotIn("Sanitizer", err)
        self.assertNotIn("runtime error", err)
        self.assertLess(took, LIMIT_S, "evid -c took %.1fs" % took)
        m = re.search(re.escape(path) + r":(\d+):(\d+): error: (.+)", err)
        self.assertIsNotNone(m, "no FILE:LINE:COL: error: line in:\n" + err[-2000:])
        if line is not None:
            self.assertEqual(int(m.group(1)), line, err[-2000:])
        if what is not None:
            self.assertRegex(m.group(3), what)
        # One error report, not a flood (a 10 MB file must not give 10 MB of errors).
        self.assertLess(len(err), 64 * 1024, "stderr is %d bytes" % len(err))
        return m

    # ---- size --------------------------------------------------------------------------

    def test_a_huge_file_of_comments_then_an_error_reports_the_last_line(self):
        lines = 200000
        data = b"# a comment line that says nothing at all, padded out to some length\n" * lines
        data += b"bogus_directive\n"
        self.assert_clean_error(data, line=lines + 1)

    def test_a_huge_file_of_valid_globals_is_checked_in_bounded_time(self):
        data = ('mpath = "%s"\n' % PLUGINS).encode() + b"log_level = 2\n" * 200000
        rc, err, _, took = self.check(data + b"startup_route {\n")
        self.assertEqual(rc, 1, err[-2000:])
        self.assertLess(took, LIMIT_S)
        self.assertRegex(err, r":200002:\d+: error: ")

    def test_a_single_ten_megabyte_line_is_a_clean_error(self):
        self.assert_clean_error(b"x" * (10 * 1024 * 1024) + b" = 1\n", line=1)

    def test_a_ten_megabyte_string_literal_is_checked_without_a_crash(self):
        data = b'startup_route { xlog("' + b"a" * (10 * 1024 * 1024) + b'"); }\nbogus\n'
        self.assert_clean_error(data, line=2)

    def test_an_unterminated_string_at_the_end_of_a_huge_file(self):
        self.assert_clean_error(b'startup_route { xlog("' + b"a" * (1024 * 1024))

    def test_an_unterminated_block_comment_is_an_error(self):
        self.assert_clean_error(b"/* " + b"never closed\n" * 10000)

    # ---- nesting -----------------------------------------------------------------------

    def test_deeply_nested_ifs_are_refused_or_checked_without_a_stack_overflow(self):
        depth = 100000
        data = (b"startup_route {\n" + b"if (1) {\n" * depth + b'xlog("x");\n' +
                b"}\n" * depth + b"}\n")
        rc, err, _, took = self.check(data)
        self.assertIn(rc, (0, 1), "exit %s (a signal: stack overflow?):\n%s" % (rc, err[-2000:]))
        self.assertLess(took, LIMIT_S)
        if rc == 1:
            self.assertRegex(err, r"hostile\.cfg:\d+:\d+: error: ")

    def test_deeply_nested_parentheses_are_refused_or_checked_without_a_stack_overflow(self):
        depth = 100000
        data = (b"startup_route {\n$var(x) = " + b"(" * depth + b"1" + b")" * depth +
                b";\n}\n")
        rc, err, _, took = self.check(data)
        self.assertIn(rc, (0, 1), "exit %s (a signal: stack overflow?):\n%s" % (rc, err[-2000:]))
        self.assertLess(took, LIMIT_S)
        if rc == 1:
            self.assertRegex(err, r"hostile\.cfg:\d+:\d+: error: ")

    def test_deeply_nested_unary_operators_are_refused_or_checked_without_a_stack_overflow(self):
        depth = 100000
        data = b"startup_route {\nif (" + b"!" * depth + b"1) { xlog(\"x\"); }\n}\n"
        rc, err, _, took = self.check(data)
        self.assertIn(rc, (0, 1), "exit %s (a signal: stack overflow?):\n%s" % (rc, err[-2000:]))
        self.assertLess(took, LIMIT_S)

    def test_many_unclosed_blocks_end_with_an_end_of_file_error(self):
        self.assert_clean_error(b"startup_route {\n" + b"if (1) {\n" * 1000)

    # ---- bytes -------------------------------------------------------------------------

    def test_a_nul_byte_is_an_error_at_its_position(self):
        self.assert_clean_error(b"log_level = 2\nlog_\x00level = 3\n", line=2)

    def test_a_control_byte_in_a_listener_address_is_echoed_escaped(self):
        rc, err, path, _ = self.check(b'mi_listen = "\x1b[2J:1"\n')
        self.assertEqual(rc, 1, err)
        self.assertIn('mi_listen "\\x1b[2J:1"', err)
        self.assertNotIn("\x1b", err)

    def test_a_nul_byte_inside_a_string_is_an_error_or_kept(self):
        rc, err, _, _ = self.check(b'startup_route { xlog("a\x00b"); }\n')
        self.assertIn(rc, (0, 1), err)
        if rc == 1:
            self.assertRegex(err, r"hostile\.cfg:1:\d+: error: ")

    def test_invalid_utf8_outside_strings_is_an_error_at_its_position(self):
        self.assert_clean_error(b"log_level = 2\n\xff\xfe = 3\n", line=2)

    def test_invalid_utf8_in_an_event_name_is_an_error(self):
        self.assert_clean_error(b'startup_route { raise_event("E_\xc3\x28"); }\n', line=1)

    def test_a_file_of_random_bytes_is_a_clean_error(self):
        import random
        rnd = random.Random(8)
        for _ in range(20):
            data = bytes(rnd.randrange(256) for _ in range(4096))
            rc, err, _, took = self.check(data)
            self.assertEqual(rc, 1, "exit %s:\n%s" % (rc, err[-2000:]))
            self.assertRegex(err, r"hostile\.cfg:\d+:\d+: error: ")
            self.assertLess(took, LIMIT_S)

    def test_an_error_message_never_echoes_megabytes_of_input(self):
        _, err, _, _ = self.check(b"x" * (4 * 1024 * 1024) + b"\n")
        self.assertLess(len(err), 64 * 1024)

    # ---- long expressions --------------------------------------------------------------

    def test_a_100000_term_chain_of_plus_is_a_clean_error_that_names_the_limit(self):
        data = b"startup_route {\n$var(x) = 1" + b" + 1" * 99999 + b";\n}\n"
        self.assert_clean_error(data, line=2, what=r"deeper than 256 operators")

    def test_a_100000_term_chain_of_and_is_a_clean_error_that_names_the_limit(self):
        data = b"startup_route {\nif ($var(a)" + b" && $var(a)" * 99999 + b") { exit; }\n}\n"
        self.assert_clean_error(data, line=2, what=r"deeper than 256 operators")

    def test_a_chain_of_256_operators_is_accepted(self):
        data = b"startup_route {\n$var(x) = 1" + b" + 1" * 256 + b";\n}\n"
        rc, err, _, _ = self.check(data)
        self.assertEqual(rc, 0, err[-2000:])

    # ---- what errors echo --------------------------------------------------------------

    def raw_stderr(self, data):
        """The exit code and the raw bytes evid -c wrote on stderr."""
        d = tempfile.mkdtemp(prefix="evi-rel-cfg-")
        path = os.path.join(d, "hostile.cfg")
        with open(path, "wb") as f:
            f.write(data)
        self.addCleanup(lambda: (os.unlink(path), os.rmdir(d)))
        p = subprocess.run([EVID, "-c", "-f", path], capture_output=True, timeout=LIMIT_S * 3)
        return p.returncode, p.stderr

    def assert_no_raw_control_bytes(self, err):
        body = err.rstrip(b"\n")
        bad = [b for b in body if b < 0x20 or b == 0x7f]
        self.assertEqual(bad, [], "raw control bytes on stderr: %r" % err)
        body.decode("utf-8")  # no invalid UTF-8 either (raises)
        for c in body.decode("utf-8"):
            self.assertFalse(0x80 <= ord(c) < 0xa0, "a C1 control character: %r" % err)

    def test_control_bytes_echoed_from_a_socket_string_are_escaped(self):
        rc, err = self.raw_stderr(b'loadmodule "%s/event_datagram.so"\n' % PLUGINS.encode() +
                                  b'startup_route { subscribe_event("E_X", '
                                  b'"no\x1b[2J\x1b]0;t\x07\xc2\x9bcolon"); }\n')
        self.assertEqual(rc, 1, err)
        self.assert_no_raw_control_bytes(err)
        self.assertIn(b':2:40: error: bad socket "no\\x1b[2J\\x1b]0;t\\x07\\xc2\\x9bcolon"', err)

    def test_invalid_utf8_echoed_from_an_event_name_is_escaped(self):
        rc, err = self.raw_stderr(b'startup_route { raise_event("E_\xc3\x28\x00"); }\n')
        self.assertEqual(rc, 1, err)
        self.assert_no_raw_control_bytes(err)
        self.assertIn(b"bad event name 'E_\\xc3(\\x00': it has '\\xc3' at position 3", err)

    def test_a_nul_byte_in_a_string_is_never_echoed_raw(self):
        rc, err = self.raw_stderr(b'startup_route { xlog("L_BAD\x00\x1b", "x"); }\n')
        self.assertEqual(rc, 1, err)
        self.assert_no_raw_control_bytes(err)

    # ---- literal sockets ---------------------------------------------------------------

    def socket_config(self, socket):
        return ('mi_listen = "127.0.0.1:%d"\nloadmodule "%s/event_datagram.so"\n'
                'loadmodule "%s/event_virtual.so"\n'
                'startup_route {\n    subscribe_event("E_X", "%s");\n}\n'
                % (free_port(), PLUGINS, PLUGINS, socket)).encode()

    def test_a_literal_socket_the_transport_refuses_is_a_check_error_with_its_reason(self):
        m = self.assert_clean_error(self.socket_config("udp:999.1.1.1:x"), line=5)
        self.assertEqual(m.group(2), "28")
        self.assertEqual(m.group(3), "bad socket 'udp:999.1.1.1:x': '999.1.1.1:x': the port "
                                     "must be a number from 1 to 65535")

    def test_a_bad_virtual_member_is_a_check_error(self):
        self.assert_clean_error(self.socket_config("virtual:FAILOVER udp:127.0.0.1:9 udp:x"),
                                line=5, what=r"member 2 'udp:x'")

    def test_a_good_literal_socket_passes_the_check(self):
        rc, err, _, _ = self.check(self.socket_config("udp:127.0.0.1:9"))
        self.assertEqual(rc, 0, err)

    def test_evid_refuses_to_start_on_a_bad_literal_socket(self):
        d = tempfile.mkdtemp(prefix="evi-rel-cfg-")
        path = os.path.join(d, "bad-socket.cfg")
        with open(path, "wb") as f:
            f.write(self.socket_config("udp:999.1.1.1:x"))
        self.addCleanup(lambda: (os.unlink(path), os.rmdir(d)))
        p = subprocess.Popen([EVID, "-f", path], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        _, err = p.communicate(timeout=LIMIT_S)
        self.assertEqual(p.returncode, 1, err)
        self.assertIn(b"bad-socket.cfg:5:28: error: bad socket 'udp:999.1.1.1:x'", err)
        self.assertNotIn(b"evid started", err)


if __name__ == "__main__":
    unittest.main()
