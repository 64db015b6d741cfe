"""
fauth_control — the client of fauth's control channel (see
tests/fauth/fauth.py CONTROL_HELP).

Every call opens a connection, sends one JSON line, reads one JSON line and
closes, with a bounded timeout, so a test never holds a socket between calls
and a dead fauth fails fast. `address` is "HOST:PORT" (TCP) or a unix socket
path (anything with a "/"), the same string given to `fauth.py --control`.

    from holdfast_test import fauth_control as control
    control.set_fault(addr, server="ns1", zone="f.test.", mode="drop")
    control.set_fault(addr, name="www.f.test.", qtype="A", mode="data",
                      data="A 192.0.2.99")
    n = control.count(control.counts(addr), server="ns1", name="www.f.test.")
    control.clear_faults(addr)

It does not retry, reconnect or keep state; errors from fauth raise
ControlError with fauth's message.
"""
import json
import socket

TIMEOUT = 5.0


class ControlError(Exception):
    pass


def request(address, cmd, timeout=TIMEOUT, **fields):
    """Send {"cmd": cmd, **fields}; return the answer dict (ok is true)."""
    req = dict(fields, cmd=cmd)
    if "/" in address:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target = address
    else:
        host, _, port = address.rpartition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        target = (host, int(port))
    try:
        sock.settimeout(timeout)
        sock.connect(target)
        sock.sendall(json.dumps(req).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ControlError("fauth closed the control connection mid-answer")
            buf += chunk
    except OSError as e:
        raise ControlError("control %s: %s" % (address, e)) from e
    finally:
        sock.close()
    answer = json.loads(buf)
    if not answer.get("ok"):
        raise ControlError(answer.get("error", "unknown error"))
    return answer


def ping(address, timeout=TIMEOUT):
    return request(address, "ping", timeout=timeout).get("pong", False)


def set_fault(address, server=None, zone=None, name=None, qtype=None, mode="normal",
              delay_ms=None, data=None, ttl=None, flap_every=None, flap_ms=None,
              flap_mode=None, priority=None):
    """Add or replace (same server/zone/name/qtype) a fault; returns its id.
    None for server/zone/name/qtype means any."""
    fields = {"server": server, "zone": zone, "name": name, "qtype": qtype, "mode": mode,
              "delay_ms": delay_ms, "data": data, "ttl": ttl, "flap_every": flap_every,
              "flap_ms": flap_ms, "flap_mode": flap_mode, "priority": priority}
    fields = {k: v for k, v in fields.items() if v is not None}
    return request(address, "set_fault", **fields)["id"]


def clear_faults(address, fault_id=None):
    """Remove every fault, or only the one with `fault_id`; returns how many."""
    if fault_id is None:
        return request(address, "clear_faults")["cleared"]
    return request(address, "clear_faults", id=fault_id)["cleared"]


def list_faults(address):
    return request(address, "list_faults")["faults"]


def counts(address):
    """{"total": N, "servers": {srv: {"total", "udp", "tcp"}},
        "names": {srv: {qname: {qtype: n}}}, "modes": {srv: {mode: n}}}"""
    return request(address, "counts")["counts"]


def reset_counts(address):
    request(address, "reset_counts")


def queries(address):
    """The recent queries, oldest first: dicts with t (epoch seconds), server,
    transport, name, qtype, mode and fault (id or None)."""
    return request(address, "queries")["queries"]


def set_log(address, on=True):
    request(address, "set_log", on=on)


def status(address):
    return request(address, "status")


def count(snapshot, server=None, name=None, qtype=None):
    """Sum of queries in a counts() snapshot matching server, name
    (case-insensitive, trailing dot optional) and qtype; None = any."""
    if name is not None:
        name = name.lower()
        if not name.endswith("."):
            name += "."
    total = 0
    for srv, names in snapshot["names"].items():
        if server is not None and srv != server:
            continue
        for qname, types in names.items():
            if name is not None and qname != name:
                continue
            for t, n in types.items():
                if qtype is None or t == qtype.upper():
                    total += n
    return total
