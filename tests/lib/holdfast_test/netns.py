"""
netns — refuse to run outside the private network namespace of ../netns.sh.

The suites bind port 53 on 127.x addresses and must never talk to the
outside world, so before anything starts they check that netns.sh put them
in a namespace of their own: HOLDFAST_NETNS=1, loopback the only interface,
and root inside it. It does not create the namespace (netns.sh does).
"""
import os

from . import HarnessError


def check_private_netns(runner="run.sh"):
    """Raise HarnessError unless we run inside netns.sh's namespace;
    `runner` names the script to use instead."""
    if os.environ.get("HOLDFAST_NETNS") != "1":
        raise HarnessError("these tests must run inside a private network namespace: "
                           "use %s" % runner)
    with open("/proc/self/net/dev") as f:
        ifaces = [line.split(":")[0].strip() for line in f.readlines()[2:]]
    if ifaces != ["lo"]:
        raise HarnessError("network namespace is not private (interfaces: %s)" % ifaces)
    if os.geteuid() != 0:
        raise HarnessError("need root inside the namespace to bind port 53")
