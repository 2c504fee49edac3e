"""event_flatstore with a real evid and real files: exact lines, escaping (written copy only),
suppress_event_name, shared files, max_open_sockets, allowed_dirs, O_NOFOLLOW, permissions,
concurrent writers, and the rotations (count, size, period, MI after mv, SIGHUP) with their
E_FLATSTORE_ROTATION events."""
import json
import os
import shutil
import signal
import stat
import tempfile
import threading
import time
import unittest

from evitest import EvidTestCase, wait_for
from local_peers import MODULES, DatagramSink, mi_ok, read, statistic, subscribers, wait_file


def config(subs, extra="", declare=("E_FLAT",)):
    """Config text: modules, extra lines, a startup_route with the given (event, socket)
    subscriptions, and a never-run route that publishes the events named in `declare`."""
    body = "".join('    subscribe_event("%s", "%s");\n' % s for s in subs)
    decl = "".join('    raise_event("%s");\n' % ev for ev in declare)
    return (MODULES + extra + "startup_route {\n" + body + "}\n" +
            "route[declare] {\n" + decl + "}\n")


class FlatstoreTest(EvidTestCase):
    def raise_(self, e, event="E_FLAT", **params):
        mi_ok(e, "raise_event", {"event": event, "params": params} if params else
              {"event": event})

    def sink(self):
        s = DatagramSink("udp4")
        self.addCleanup(s.close)
        return s

    def rotations(self, sink, n):
        """The params of the first n E_FLATSTORE_ROTATION events received on sink."""
        got = sink.wait(n)
        self.assertEqual(len(got), n, got)
        return [json.loads(p)["params"] for p in got]

    # ---- the line ----------------------------------------------------------------------

    def test_a_line_is_the_name_then_the_values_without_names(self):
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/events.log")]))
        self.raise_(e, s="hello", n=42)
        self.assertEqual(wait_file(os.path.join(e.dir, "events.log"), b"E_FLAT,hello,42\n"),
                         b"E_FLAT,hello,42\n")

    def test_lines_are_appended_in_raise_order_with_empty_strings_kept(self):
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/events.log")]))
        self.raise_(e, a="", b="x")
        self.raise_(e, n=-3)
        self.raise_(e)
        want = b"E_FLAT,,x\nE_FLAT,-3\nE_FLAT\n"
        self.assertEqual(wait_file(os.path.join(e.dir, "events.log"), want), want)

    def test_escaping_changes_the_written_copy_only(self):
        s = self.sink()
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/events.log"),
                              ("E_FLAT", s.address)]))
        self.raise_(e, v="a,b\nc\rd")
        want = b"E_FLAT,a b c d\n"
        self.assertEqual(wait_file(os.path.join(e.dir, "events.log"), want), want)
        self.assertEqual(s.wait(1), [b'{"jsonrpc":"2.0","method":"E_FLAT",'
                                     b'"params":{"v":"a,b\\nc\\rd"}}'])

    def test_delimiter_and_escape_delimiter(self):
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/events.log")],
                             'modparam("event_flatstore", "delimiter", ";")\n'
                             'modparam("event_flatstore", "escape_delimiter", "|")\n'))
        self.raise_(e, v="a;b,c", n=1)
        want = b"E_FLAT;a|b,c;1\n"
        self.assertEqual(wait_file(os.path.join(e.dir, "events.log"), want), want)

    def test_suppress_event_name_starts_with_the_first_value(self):
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/events.log")],
                             'modparam("event_flatstore", "suppress_event_name", 1)\n'))
        self.raise_(e, s="hello", n=42)
        self.raise_(e)
        want = b"hello,42\n\n"
        self.assertEqual(wait_file(os.path.join(e.dir, "events.log"), want), want)

    def test_file_permissions_are_applied_exactly(self):
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/events.log")],
                             'modparam("event_flatstore", "file_permissions", "640")\n'))
        mode = stat.S_IMODE(os.stat(os.path.join(e.dir, "events.log")).st_mode)
        self.assertEqual(oct(mode), oct(0o640))

    def test_concurrent_raisers_never_interleave_inside_a_line(self):
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/events.log")]))
        threads, n_threads, n_each = [], 4, 40

        def run(t):
            for i in range(n_each):
                self.raise_(e, t=t, i=i, pad=chr(ord("a") + t) * 5000)
        for t in range(n_threads):
            threads.append(threading.Thread(target=run, args=(t,)))
            threads[-1].start()
        for t in threads:
            t.join(60)
        lines = read(os.path.join(e.dir, "events.log")).split(b"\n")
        self.assertEqual(lines[-1], b"")
        lines = lines[:-1]
        self.assertEqual(len(lines), n_threads * n_each)
        for line in lines:
            name, t, i, pad = line.split(b",")
            self.assertEqual(name, b"E_FLAT")
            self.assertEqual(pad, bytes([ord("a") + int(t)]) * 5000)
        for t in range(n_threads):  # each raiser's lines in its own order
            mine = [int(l.split(b",")[2]) for l in lines if l.split(b",")[1] == b"%d" % t]
            self.assertEqual(mine, list(range(n_each)))

    # ---- batched mode (flush_interval_ms) ----------------------------------------------

    def test_batched_lines_reach_the_file_within_the_flush_interval(self):
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/events.log")],
                             'modparam("event_flatstore", "flush_interval_ms", 100)\n'))
        for i in range(50):
            self.raise_(e, i=i)
        want = b"".join(b"E_FLAT,%d\n" % i for i in range(50))
        self.assertEqual(wait_file(os.path.join(e.dir, "events.log"), want, timeout=2), want)

    def test_batched_lines_are_buffered_then_flushed_at_shutdown(self):
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/events.log")],
                             'modparam("event_flatstore", "flush_interval_ms", 60000)\n'))
        for i in range(3):
            self.raise_(e, i=i)
        path = os.path.join(e.dir, "events.log")
        self.assertEqual(read(path), b"")  # 60 s interval, 64 KiB buffer: still buffered
        self.assertEqual(e.stop(), 0)
        self.assertEqual(read(path), b"E_FLAT,0\nE_FLAT,1\nE_FLAT,2\n")

    def test_batched_lines_go_to_the_old_file_on_rotation(self):
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/events.log")],
                             'modparam("event_flatstore", "flush_interval_ms", 60000)\n'))
        path = os.path.join(e.dir, "events.log")
        self.raise_(e, i=1)
        os.rename(path, path + ".1")
        mi_ok(e, "evi_flat_rotate", {"path": path})
        self.raise_(e, i=2)
        self.assertEqual(read(path + ".1"), b"E_FLAT,1\n")
        self.assertEqual(e.stop(), 0)
        self.assertEqual(read(path), b"E_FLAT,2\n")

    def test_a_full_batch_is_written_at_once(self):
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/events.log")],
                             'modparam("event_flatstore", "flush_interval_ms", 60000)\n'))
        for i in range(20):  # 20 lines of 5000 bytes overflow the 64 KiB buffer
            self.raise_(e, v="x" * 4990)
        size = os.path.getsize(os.path.join(e.dir, "events.log"))
        self.assertGreater(size, 0)
        self.assertEqual(size % 4998, 0)  # whole lines only

    # ---- files -------------------------------------------------------------------------

    def test_subscriptions_to_the_same_file_share_it(self):
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/events.log"),
                              ("E_OTHER", "flatstore:@DIR@/./events.log")],
                             declare=("E_FLAT", "E_OTHER")))
        self.raise_(e, n=1)
        self.raise_(e, "E_OTHER", n=2)
        self.raise_(e, n=3)
        want = b"E_FLAT,1\nE_OTHER,2\nE_FLAT,3\n"
        self.assertEqual(wait_file(os.path.join(e.dir, "events.log"), want), want)

    def test_max_open_sockets_refuses_one_file_too_many_but_not_a_shared_one(self):
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/a.log"),
                              ("E_FLAT", "flatstore:@DIR@/b.log")],
                             'modparam("event_flatstore", "max_open_sockets", 2)\n',
                             declare=("E_FLAT", "E_OTHER")))
        r = e.mi("event_subscribe", {"event": "E_OTHER",
                                     "socket": "flatstore:%s/c.log" % e.dir, "expire": 60})
        self.assertIn("error", r)
        self.assertIn("max_open_sockets (2)", r["error"].get("data", ""))
        self.assertIsNone(read(os.path.join(e.dir, "c.log")))
        mi_ok(e, "event_subscribe", {"event": "E_OTHER", "socket": "flatstore:%s/a.log" % e.dir,
                                     "expire": 60})
        self.raise_(e, "E_OTHER", n=1)
        self.assertEqual(wait_file(os.path.join(e.dir, "a.log"), b"E_OTHER,1\n"), b"E_OTHER,1\n")

    def test_a_file_is_closed_with_its_last_subscription_freeing_a_slot(self):
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/a.log")],
                             'modparam("event_flatstore", "max_open_sockets", 2)\n'))
        b = "flatstore:%s/b.log" % e.dir
        c = "flatstore:%s/c.log" % e.dir
        mi_ok(e, "event_subscribe", {"event": "E_FLAT", "socket": b, "expire": 60})
        self.assertIn("error", e.mi("event_subscribe",
                                    {"event": "E_FLAT", "socket": c, "expire": 60}))
        mi_ok(e, "event_subscribe", {"event": "E_FLAT", "socket": b, "expire": 0})
        # the core releases the old socket when its delivery worker has let go of it
        self.assertTrue(wait_for(lambda: "result" in e.mi(
            "event_subscribe", {"event": "E_FLAT", "socket": c, "expire": 60})))

    def test_the_parent_directory_must_exist(self):
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/events.log")]))
        r = e.mi("event_subscribe", {"event": "E_FLAT",
                                     "socket": "flatstore:%s/nodir/x.log" % e.dir,
                                     "expire": 60})
        self.assertIn("does not exist", r["error"].get("data", ""))

    def test_a_symbolic_link_is_never_followed(self):
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/events.log")]))
        target = os.path.join(e.dir, "target")
        open(target, "wb").close()
        os.symlink(target, os.path.join(e.dir, "link.log"))
        r = e.mi("event_subscribe", {"event": "E_FLAT",
                                     "socket": "flatstore:%s/link.log" % e.dir, "expire": 60})
        self.assertIn("symbolic link", r["error"].get("data", ""))
        self.assertEqual(read(target), b"")

    def test_a_config_subscription_to_a_symbolic_link_is_refused_and_logged(self):
        tmp = tempfile.mkdtemp(prefix="evi-flat-")
        self.addCleanup(shutil.rmtree, tmp, True)
        target = os.path.join(tmp, "target")
        open(target, "wb").close()
        os.symlink(target, os.path.join(tmp, "x.log"))
        e = self.evid(config([("E_FLAT", "flatstore:%s/x.log" % tmp)]))
        self.assertTrue(e.wait_log("symbolic link"), e.log())
        self.assertEqual(subscribers(e, "E_FLAT"), [])
        self.assertEqual(read(target), b"")

    # ---- allowed_dirs --------------------------------------------------------------------

    def test_mi_subscriptions_are_refused_outside_the_config_directories(self):
        other = tempfile.mkdtemp(prefix="evi-flat-other-")
        self.addCleanup(shutil.rmtree, other, True)
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/events.log")]))
        r = e.mi("event_subscribe", {"event": "E_FLAT", "socket": "flatstore:%s/x.log" % other,
                                     "expire": 60})
        self.assertIn("error", r)
        data = r["error"].get("data", "")
        self.assertIn("may only write below " + os.path.realpath(e.dir), data)
        self.assertIsNone(read(os.path.join(other, "x.log")))
        os.mkdir(os.path.join(e.dir, "sub"))
        mi_ok(e, "event_subscribe", {"event": "E_FLAT",
                                     "socket": "flatstore:%s/sub/x.log" % e.dir, "expire": 60})

    def test_mi_subscriptions_cannot_climb_out_with_dot_dot(self):
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/events.log")]))
        r = e.mi("event_subscribe", {"event": "E_FLAT",
                                     "socket": "flatstore:%s/../evil.log" % e.dir,
                                     "expire": 60})
        self.assertIn("error", r)

    def test_allowed_dirs_modparam_lists_the_allowed_directories(self):
        allowed = tempfile.mkdtemp(prefix="evi-flat-allowed-")
        self.addCleanup(shutil.rmtree, allowed, True)
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/events.log")],
                             'modparam("event_flatstore", "allowed_dirs", "%s, /nonexistent/x")\n'
                             % allowed))
        r = e.mi("event_subscribe", {"event": "E_FLAT",
                                     "socket": "flatstore:%s/x.log" % e.dir, "expire": 60})
        self.assertIn("may only write below %s, /nonexistent/x" % os.path.realpath(allowed),
                      r["error"].get("data", ""))
        mi_ok(e, "event_subscribe", {"event": "E_FLAT",
                                     "socket": "flatstore:%s/x.log" % allowed, "expire": 60})
        self.raise_(e, n=1)
        self.assertEqual(wait_file(os.path.join(allowed, "x.log"), b"E_FLAT,1\n"), b"E_FLAT,1\n")

    def test_without_config_subscriptions_mi_cannot_write_files(self):
        e = self.evid(config([]))
        r = e.mi("event_subscribe", {"event": "E_FLAT",
                                     "socket": "flatstore:%s/x.log" % e.dir, "expire": 60})
        self.assertIn("no directory is allowed", r["error"].get("data", ""))

    # ---- rotation ------------------------------------------------------------------------

    def rotation_config(self, extra, s):
        return config([("E_FLAT", "flatstore:@DIR@/events.log"),
                       ("E_FLATSTORE_ROTATION", s.address)], extra)

    def rotated_files(self, e):
        return sorted(f for f in os.listdir(e.dir) if f.startswith("events.log."))

    def test_rotate_count_rotates_after_that_many_lines(self):
        s = self.sink()
        e = self.evid(self.rotation_config('modparam("event_flatstore", "rotate_count", 2)\n', s))
        for i in range(5):
            self.raise_(e, i=i)
        rot = self.rotations(s, 2)
        path = os.path.realpath(os.path.join(e.dir, "events.log"))
        self.assertEqual([r["reason"] for r in rot], ["count", "count"])
        self.assertEqual([r["filename"] for r in rot], [path, path])
        self.assertTrue(all(abs(r["timestamp"] - time.time()) < 30 for r in rot))
        self.assertEqual(read(rot[0]["old_filename"]), b"E_FLAT,0\nE_FLAT,1\n")
        self.assertEqual(read(rot[1]["old_filename"]), b"E_FLAT,2\nE_FLAT,3\n")
        self.assertEqual(read(path), b"E_FLAT,4\n")
        self.assertEqual(len(self.rotated_files(e)), 2)
        self.assertEqual(statistic(e, "modules:evi_event_flatstore_rotations"), 2)

    def test_rotate_size_keeps_every_file_within_the_size(self):
        s = self.sink()
        e = self.evid(self.rotation_config('modparam("event_flatstore", "rotate_size", "1k")\n',
                                           s))
        line = b"E_FLAT," + b"x" * 92 + b"\n"  # 100 bytes: 10 fit in 1 KiB
        for _ in range(25):
            self.raise_(e, v="x" * 92)
        rot = self.rotations(s, 2)
        self.assertEqual([r["reason"] for r in rot], ["size", "size"])
        self.assertEqual(read(rot[0]["old_filename"]), line * 10)
        self.assertEqual(read(rot[1]["old_filename"]), line * 10)
        self.assertEqual(read(os.path.join(e.dir, "events.log")), line * 5)

    def test_rotate_period_rotates_a_non_empty_file(self):
        s = self.sink()
        e = self.evid(self.rotation_config('modparam("event_flatstore", "rotate_period", 1)\n',
                                           s))
        self.raise_(e, n=1)
        rot = self.rotations(s, 1)
        self.assertEqual(rot[0]["reason"], "period")
        self.assertEqual(read(rot[0]["old_filename"]), b"E_FLAT,1\n")
        self.assertEqual(read(os.path.join(e.dir, "events.log")), b"")
        time.sleep(1.5)  # an empty file is not rotated
        self.assertEqual(s.drain(0.1), s.got[:1])
        self.raise_(e, n=2)
        self.assertEqual(read(os.path.join(e.dir, "events.log")), b"E_FLAT,2\n")

    def test_mv_then_mi_rotate_reopens_the_path_as_logrotate_expects(self):
        s = self.sink()
        e = self.evid(self.rotation_config("", s))
        path = os.path.join(e.dir, "events.log")
        self.raise_(e, n=1)
        os.rename(path, path + ".1")
        self.raise_(e, n=2)  # still the moved file until rotate
        self.assertEqual(mi_ok(e, "evi_flat_rotate", {"path": path}), "OK")
        self.raise_(e, n=3)
        self.assertEqual(read(path + ".1"), b"E_FLAT,1\nE_FLAT,2\n")
        self.assertEqual(read(path), b"E_FLAT,3\n")
        rot = self.rotations(s, 1)[0]
        self.assertEqual(rot["reason"], "mi")
        self.assertEqual(rot["filename"], os.path.realpath(path))
        self.assertEqual(rot["old_filename"], os.path.realpath(path + ".1"))

    def test_the_rotate_alias_and_positional_path(self):
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/events.log")]))
        path = os.path.join(e.dir, "events.log")
        self.raise_(e, n=1)
        os.rename(path, path + ".1")
        self.assertEqual(mi_ok(e, "event_flatstore:rotate", [path]), "OK")
        self.raise_(e, n=2)
        self.assertEqual(read(path), b"E_FLAT,2\n")

    def test_rotating_an_unknown_path_is_an_error(self):
        e = self.evid(config([("E_FLAT", "flatstore:@DIR@/events.log")]))
        r = e.mi("evi_flat_rotate", {"path": os.path.join(e.dir, "other.log")})
        self.assertEqual(r["error"]["code"], 404)

    def test_sighup_reopens_every_file(self):
        s = self.sink()
        e = self.evid(self.rotation_config("", s))
        path = os.path.join(e.dir, "events.log")
        self.raise_(e, n=1)
        os.rename(path, path + ".1")
        e.proc.send_signal(signal.SIGHUP)
        rot = self.rotations(s, 1)[0]
        self.assertEqual((rot["reason"], rot["old_filename"]),
                         ("sighup", os.path.realpath(path + ".1")))
        self.raise_(e, n=2)
        self.assertEqual(read(path), b"E_FLAT,2\n")
        self.assertEqual(read(path + ".1"), b"E_FLAT,1\n")


if __name__ == "__main__":
    unittest.main()
