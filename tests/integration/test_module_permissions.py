"""The loader's permission check (issue 8), with the real evid and a real built module copied
into a private directory: a module file or directory that others may write, or (evid running
as root) that another user owns, is refused by `evid -c` and by a starting evid with a
message that says why and names the loadmodule line; `module_permission_check = no` loads it.
"""
import os
import pwd
import shutil
import stat
import tempfile
import unittest

from evitest import PLUGINS, Evid, EvidTestCase, check_config, free_port

MODULE = "event_datagram.so"


class ModulePermissionsTest(EvidTestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="evi-perm-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.moddir = os.path.join(self.tmp, "modules")
        os.mkdir(self.moddir)
        os.chmod(self.moddir, 0o755)
        self.module = os.path.join(self.moddir, MODULE)
        shutil.copy(os.path.join(PLUGINS, MODULE), self.module)
        os.chmod(self.module, 0o755)

    def config(self, check="yes"):
        # loadmodule is on line 4, column 1.
        return ('mi_listen = "127.0.0.1:%d"\nmpath = "%s"\nmodule_permission_check = %s\n'
                'loadmodule "%s"\n'
                'startup_route { subscribe_event("E_P", "udp:127.0.0.1:9"); }\n'
                % (free_port(), self.moddir, check, MODULE))

    def assert_refused(self, why):
        """`evid -c` and a starting evid both refuse the module, saying `why`."""
        rc, err, path = check_config(self.config(), tmpdir=self.tmp)
        self.assertEqual(rc, 1, err)
        self.assertIn("%s:4:1: error: refusing to load %s: %s" % (path, self.module, why), err)
        self.assertIn("set module_permission_check = no", err)
        e = Evid(self.config())
        self.addCleanup(e.__exit__, None, None, None)
        with self.assertRaises(RuntimeError) as started:
            e.start()
        self.assertIn("evid.cfg:4:1: error: refusing to load %s: %s" % (self.module, why),
                      str(started.exception))
        self.assertNotIn("evid started", e.log())

    def test_a_private_copy_of_the_module_loads(self):
        rc, err, _ = check_config(self.config(), tmpdir=self.tmp)
        self.assertEqual(rc, 0, err)
        e = self.evid(self.config())
        paths = [m["path"] for m in e.mi("modules_list")["result"]["Modules"]]
        self.assertEqual(paths, [self.module])

    def test_a_module_file_every_user_may_write_is_refused(self):
        os.chmod(self.module, 0o757)
        self.assert_refused("%s is writable by every user: anyone who can write it can run "
                            "code inside evid (chmod go-w %s)" % (self.module, self.module))

    def test_a_module_file_its_group_may_write_is_refused(self):
        os.chmod(self.module, 0o775)
        self.assert_refused("%s is writable by its group" % self.module)

    def test_a_module_directory_its_group_may_write_is_refused(self):
        os.chmod(self.moddir, 0o775)
        self.assert_refused("%s is writable by its group: anyone who can write it can run "
                            "code inside evid (chmod go-w %s)" % (self.moddir, self.moddir))

    @unittest.skipUnless(os.geteuid() == 0, "the ownership check applies when evid runs as root")
    def test_a_module_owned_by_another_user_is_refused_when_evid_runs_as_root(self):
        nobody = pwd.getpwnam("nobody").pw_uid
        os.chown(self.module, nobody, -1)
        self.assert_refused("%s is owned by uid %d while evid runs as root (chown root %s)"
                            % (self.module, nobody, self.module))

    @unittest.skipUnless(os.geteuid() == 0, "the ownership check applies when evid runs as root")
    def test_a_module_directory_owned_by_another_user_is_refused_when_evid_runs_as_root(self):
        nobody = pwd.getpwnam("nobody").pw_uid
        os.chown(self.moddir, nobody, -1)
        self.assert_refused("%s is owned by uid %d while evid runs as root"
                            % (self.moddir, nobody))

    def test_with_the_check_off_an_unsafe_module_loads(self):
        os.chmod(self.module, 0o777)
        os.chmod(self.moddir, 0o777)
        if os.geteuid() == 0:
            os.chown(self.module, pwd.getpwnam("nobody").pw_uid, -1)
        mode = stat.S_IMODE(os.stat(self.module).st_mode)
        self.assertEqual(mode, 0o777)
        rc, err, _ = check_config(self.config(check="no"), tmpdir=self.tmp)
        self.assertEqual(rc, 0, err)
        e = self.evid(self.config(check="no"))
        paths = [m["path"] for m in e.mi("modules_list")["result"]["Modules"]]
        self.assertEqual(paths, [self.module])


if __name__ == "__main__":
    unittest.main()
