"""
config — the text of the config files the tests write, and root hints.

holdfast's config is "key: value" lines; render() turns a dict into them
(python_names in overrides become dashed keys, a list value repeats the
key). loopback_keys() are the keys every test instance needs to iterate
from root hints on loopback; each suite adds its own windows. The reference
pair, holdfast_reference() and unbound_reference(), is holdfast and Unbound
configured alike (the integration suite with RESOLVER=unbound, the benches).

It writes text and files only; it starts nothing and does not check that a
key exists (holdfast does, at start).
"""
import os

from . import PORT

ROOT_NS = "a.root-servers.test."

# The access-control list of the reference pair: everything is refused
# except 127.0.0.0/8, and 127.0.0.99 inside it is refused again (longest
# prefix wins). Clients query from 127.0.0.1 and 127.0.0.99.
ACL = [("0.0.0.0/0", "refuse"), ("127.0.0.0/8", "allow"), ("127.0.0.99/32", "refuse")]


def render(keys, header=None, overrides=None):
    """holdfast config text: `keys` in order, each replaced by `overrides`
    (python_names become dashed keys); a list value repeats the key."""
    keys = dict(keys)
    for k, v in (overrides or {}).items():
        keys[k.replace("_", "-")] = v
    lines = [header] if header else []
    for k, v in keys.items():
        for item in (v if isinstance(v, list) else [v]):
            lines.append("%s: %s" % (k, item))
    return "\n".join(lines) + "\n"


def loopback_keys(addr, root_hints, threads=1, port=PORT):
    """Listen on addr@port, iterate from `root_hints` over IPv4 to servers
    on 127.x (do-not-query-localhost: no)."""
    return {
        "interface": addr,
        "port": port,
        "num-threads": threads,
        "root-hints": root_hints,
        "do-ip4": "yes",
        "do-ip6": "no",
        "do-not-query-localhost": "no",
    }


def verbosity():
    return os.environ.get("RESOLVER_VERBOSITY", "1")


def holdfast_reference(addr, threads, root_hints):
    """holdfast's half of the reference pair (see unbound_reference)."""
    keys = loopback_keys(addr, root_hints, threads)
    keys.update({
        "qname-minimisation": "yes",
        "harden-glue": "yes",
        "cache-min-ttl": 0,
        "cache-max-ttl": 86400,
        "cache-max-negative-ttl": 3600,
        "edns-buffer-size": 1232,
        "verbosity": verbosity(),
        "access-control": ["%s %s" % acl for acl in ACL],
    })
    return render(keys, "# written by tests/lib/holdfast_test/config.py (reference config)")


def unbound_reference(addr, threads, root_hints, directory):
    """Unbound configured as holdfast_reference(), iterator only, running
    in the foreground in `directory`."""
    lines = [
        "# written by tests/lib/holdfast_test/config.py (reference config)",
        "server:",
        "\tverbosity: %s" % verbosity(),
        "\tdo-daemonize: no",
        '\tchroot: ""',
        '\tusername: ""',
        '\tdirectory: "%s"' % directory,
        '\tpidfile: ""',
        '\tlogfile: ""',
        "\tuse-syslog: no",
        "\tinterface: %s" % addr,
        "\tport: %d" % PORT,
        "\tnum-threads: %d" % threads,
        '\troot-hints: "%s"' % root_hints,
        "\tdo-ip4: yes",
        "\tdo-ip6: no",
        "\tdo-udp: yes",
        "\tdo-tcp: yes",
        "\tdo-not-query-localhost: no",
        "\tqname-minimisation: yes",
        "\tuse-caps-for-id: no",
        "\tharden-glue: yes",
        "\tminimal-responses: yes",
        '\tmodule-config: "iterator"',
        "\tcache-min-ttl: 0",
        "\tcache-max-ttl: 86400",
        "\tcache-max-negative-ttl: 3600",
        "\tedns-buffer-size: 1232",
        # Unbound's built-in local zones would answer these itself.
        '\tlocal-zone: "test." nodefault',
        '\tlocal-zone: "2.0.192.in-addr.arpa." nodefault',
    ]
    lines += ["\taccess-control: %s %s" % acl for acl in ACL]
    lines += ["remote-control:", "\tcontrol-enable: no"]
    return "\n".join(lines) + "\n"


def write_root_hints(path, addr, ns=ROOT_NS, comment=None):
    """Root hints (named.root format) naming one root server, `ns` at
    `addr`. Returns `path`."""
    with open(path, "w") as f:
        if comment:
            f.write("; %s\n" % comment)
        f.write(".\t\t\t3600000\tNS\t%s\n" % ns)
        f.write("%s\t3600000\tA\t%s\n" % (ns, addr))
    return path
