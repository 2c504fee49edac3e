"""Config input limits (issue 8): `evid -c -f FILE` on hostile files — huge, deeply nested,
long lines, NUL bytes, invalid UTF-8 — exits 1 with one clean `FILE:LINE:COL: error: …` line,
in bounded time, never a crash (a signal, a sanitizer report) or a hang."""
import os
import re
import subprocess
import tempfile
import time
import unittest

from evitest import EVID, PLUGINS

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


if __name__ == "__main__":
    unittest.main()
