"""Helpers for the fault tests (issue 8): evid started as an unprivileged user (root ignores file
modes), evid started with its own /etc/hosts and /etc/resolv.conf (a private mount namespace, so
that a test can make a name stop resolving through the real resolver), and small MI readers.
Stdlib only."""
import json
import os
import shlex
import shutil
import stat
import subprocess
import tempfile

from evitest import EVID
from local_peers import mi_ok


def _script(tmpdir, name, body):
    path = os.path.join(tmpdir, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body + "\n")
    os.chmod(path, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return path


# -- evid as nobody --------------------------------------------------------------------------

SETPRIV = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def nobody_ids():
    import pwd
    import grp
    return pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid


def why_not_as_nobody():
    """None when evid can run as nobody here, else the reason (for skipTest)."""
    if os.geteuid() != 0:
        return "not root: cannot switch to nobody (and file modes already bind this user)"
    try:
        nobody_ids()
        p = subprocess.run(SETPRIV + ["test", "-x", EVID], capture_output=True, timeout=10)
    except (OSError, KeyError, subprocess.TimeoutExpired) as e:
        return "setpriv to nobody is not available: %s" % e
    if p.returncode != 0:
        return "nobody cannot run %s (%s)" % (EVID, p.stderr.decode(errors="replace").strip())
    return None


def nobody_evid(tmpdir):
    """A script that execs evid as nobody:nogroup, without supplementary groups."""
    return _script(tmpdir, "evid-nobody",
                   "exec %s %s \"$@\"" % (" ".join(SETPRIV), shlex.quote(EVID)))


# -- evid with its own /etc/hosts --------------------------------------------------------------

class HostsFile:
    """An /etc/hosts that the test rewrites in place (same inode, so that a bind mount of it
    sees every change)."""

    def __init__(self, tmpdir):
        self.path = os.path.join(tmpdir, "hosts")
        with open(self.path, "w") as f:
            f.write("127.0.0.1 localhost\n")

    def set(self, names):
        """names: {hostname: address}; every other name stops resolving."""
        text = "127.0.0.1 localhost\n" + "".join("%s %s\n" % (a, n) for n, a in names.items())
        with open(self.path, "r+") as f:
            f.truncate(0)
            f.write(text)


def resolv_conf(tmpdir):
    """A resolv.conf whose nameserver refuses at once (nothing on 127.0.0.1:53): a name that is
    not in the hosts file fails fast instead of waiting for an unreachable server."""
    path = os.path.join(tmpdir, "resolv.conf")
    with open(path, "w") as f:
        f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    return path


def _ns_prefix(hosts, resolv):
    inner = "mount --bind %s /etc/hosts && mount --bind %s /etc/resolv.conf && exec \"$@\"" % (
        shlex.quote(hosts), shlex.quote(resolv))
    return ["unshare", "-m", "sh", "-c", inner, "ns"]


def why_no_private_hosts(tmpdir):
    """None when a private mount namespace with our own /etc/hosts works here, else why."""
    hosts = HostsFile(tmpdir)
    hosts.set({"evi-probe.test": "127.0.0.1"})
    resolv = resolv_conf(tmpdir)
    try:
        p = subprocess.run(_ns_prefix(hosts.path, resolv) + ["getent", "hosts", "evi-probe.test"],
                           capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "unshare -m is not available: %s" % e
    if p.returncode != 0 or b"127.0.0.1" not in p.stdout:
        return "cannot bind-mount a private /etc/hosts (unshare -m + mount --bind): %s" % (
            p.stderr.decode(errors="replace").strip() or "exit %d" % p.returncode)
    return None


def private_hosts(testcase, names, prefix="evi-dns-"):
    """Set-up for a test whose evid resolves through its own /etc/hosts: a temp dir (removed
    at clean-up), a HostsFile holding `names` ({hostname: address}) and a resolv.conf that
    fails fast. Skips the test where no private mount namespace can be made.
    Returns (tmpdir, hosts, resolv)."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    testcase.addCleanup(shutil.rmtree, tmp, True)
    why = why_no_private_hosts(tmp)
    if why:
        testcase.skipTest(why)
    hosts = HostsFile(tmp)
    hosts.set(names)
    return tmp, hosts, resolv_conf(tmp)


def private_hosts_evid(tmpdir, hosts, resolv):
    """A script that execs evid in a private mount namespace where /etc/hosts is `hosts.path`
    and /etc/resolv.conf is `resolv` (evid keeps the pid of the script)."""
    return _script(tmpdir, "evid-hosts",
                   "exec " + " ".join(shlex.quote(a) for a in _ns_prefix(hosts.path, resolv)) +
                   " %s \"$@\"" % shlex.quote(EVID))


def is_evid(e):
    """True when the process the harness signals is evid itself (the wrapper exec'd it), so
    that stopping it stops evid and leaves nothing behind."""
    try:
        return os.path.basename(os.readlink("/proc/%d/exe" % e.proc.pid)) == "evid"
    except OSError:
        return False


# -- MI readers ---------------------------------------------------------------------------------

def subscriber(e, event, prefix):
    r = mi_ok(e, "subscribers_list", {"event": event})
    for s in r["Event"]["Subscribers"]:
        if s["socket"].startswith(prefix):
            return s
    raise AssertionError("no %s subscriber of %s in %s" % (prefix, event, r))


def statuses(sink, timeout=0.5):
    """The params of every E_EVI_SUBSCRIBER_STATUS the datagram sink received so far."""
    sink.drain(timeout)
    out = []
    for p in sink.got:
        m = json.loads(p)
        if m.get("method") == "E_EVI_SUBSCRIBER_STATUS":
            out.append(m["params"])
    return out


def metric(e, name):
    """The value of a /metrics sample without labels, or None."""
    _, _, body = e.http("GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None
