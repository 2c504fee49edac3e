"""A third party builds plugins/example out of tree against an installed EVI (its header and
evi-plugin.pc only), and the installed evid loads it."""
import glob
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import evitest


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (cmd, p.returncode, p.stdout, p.stderr))
    return p


class ExamplePluginOutOfTree(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="evi-example-")
        stage = os.path.join(cls.tmp, "stage")
        run(["meson", "install", "-C", evitest.BUILD, "--no-rebuild", "--destdir", stage])
        pcs = glob.glob(os.path.join(stage, "**", "evi-plugin.pc"), recursive=True)
        assert len(pcs) == 1, pcs
        cls.pc_dir = os.path.dirname(pcs[0])
        # Relocate the staged install: prefix=/usr/local becomes prefix=<stage>/usr/local.
        with open(pcs[0]) as f:
            text = f.read()
        prefix = [l.split("=", 1)[1] for l in text.splitlines() if l.startswith("prefix=")][0]
        cls.prefix = stage + prefix
        with open(pcs[0], "w") as f:
            f.write(text.replace("prefix=" + prefix, "prefix=" + cls.prefix, 1))
        cls.evid = os.path.join(cls.prefix, "bin", "evid")
        # The template, copied away from our source tree, built with nothing but the install.
        src = os.path.join(cls.tmp, "event_example")
        shutil.copytree(os.path.join(evitest.REPO, "plugins", "example"), src)
        cls.out = os.path.join(cls.tmp, "exbuild")
        env = dict(os.environ, PKG_CONFIG_PATH=cls.pc_dir)
        run(["meson", "setup", cls.out, src, "--wrap-mode=nodownload"], env=env)
        run(["ninja", "-C", cls.out], env=env)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_the_template_builds_against_the_installed_header_only(self):
        so = os.path.join(self.out, "event_example.so")
        self.assertTrue(os.path.exists(so))
        syms = run(["nm", "-D", "--defined-only", so]).stdout.split()
        self.assertIn("evi_module_descriptor", syms)
        exported = [s for s in syms if s not in ("T", "A", "D", "B", "R") and not
                    all(c in "0123456789abcdef" for c in s)]
        self.assertEqual(exported, ["evi_module_descriptor"])

    def test_the_installed_pc_file_names_the_headers_abi_version(self):
        env = dict(os.environ, PKG_CONFIG_PATH=self.pc_dir)
        got = ["%s" % run(["pkg-config", "--variable=abi_" + part, "evi-plugin"],
                          env=env).stdout.strip() for part in ("major", "minor")]
        self.assertEqual(".".join(got), evitest.plugin_abi())

    def test_the_installed_evid_loads_it_and_it_delivers(self):
        out = os.path.join(self.tmp, "events.jsonl")
        cfg = ('mpath = "%s"\nloadmodule "event_example.so"\n'
               'modparam("event_example", "file_mode", "0600")\n' % self.out)
        e = evitest.Evid(cfg, binary=self.evid)  # the installed binary, not the build tree's
        e.start()
        self.addCleanup(e.__exit__, None, None, None)
        r = e.mi("event_subscribe", {"event": "E_EVI_SUBSCRIBER_STATUS",
                                     "socket": "jsonl:" + out, "expire": 60})
        self.assertEqual(r.get("result"), "OK", r)
        r = e.mi("raise_event", {"event": "E_EVI_SUBSCRIBER_STATUS",
                                 "params": {"event": "E_A", "status": "up"}})
        self.assertEqual(r.get("result"), "OK", r)
        with open(out) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines, ['{"jsonrpc":"2.0","method":"E_EVI_SUBSCRIBER_STATUS",'
                                 '"params":{"event":"E_A","status":"up"}}'])
        self.assertEqual(os.stat(out).st_mode & 0o777, 0o600)
        self.assertEqual(e.mi("example_lines", {})["result"], {"lines": 1})


if __name__ == "__main__":
    unittest.main()
