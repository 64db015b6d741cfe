#!/usr/bin/python3
"""Seed corpus for fuzz_config: the example configuration and small files
that reach each kind of key (numbers, booleans, addresses, ACL, stub and
forward zones, guard zones, quoting, comments) and each error path. Run:
/usr/bin/python3 fuzz/make_corpus_config.py"""
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "config")

SEEDS = {
    "empty": b"",
    "server-only": b"server:\n",
    "numbers": b"server:\n  num-threads: 4\n  port: 5353\n  cache-min-ttl: 5\n"
    b"  cache-max-ttl: 3600\n  cache-size: 16m\n  msg-cache-size: 4k\n  verbosity: 3\n",
    "booleans": b"do-ip4: yes\ndo-ip6: no\nserve-stale: no\nempty-answer-guard: yes\n"
    b"qname-minimisation: no\nharden-glue: yes\ndo-not-query-localhost: no\n",
    "interfaces": b"interface: 127.0.0.1\ninterface: ::1@5353\ninterface: 192.0.2.1@53\n"
    b"port: 1053\n",
    "acl": b"access-control: 0.0.0.0/0 refuse\naccess-control: 10.0.0.0/8 allow\n"
    b"access-control: ::1/128 allow\naccess-control: 2001:db8::/32 deny\n",
    "stub": b"stub-zone: example.\nstub-addr: 192.0.2.53\nstub-addr: 192.0.2.54@5300 acme\n"
    b"forward-zone: corp.\nforward-addr: 2001:db8::53\n",
    "stub-no-addr": b"stub-zone: example.\n",
    "guard": b"empty-answer-guard-zone: example.com.\nempty-answer-guard-exclude: "
    b"dyn.example.com.\nempty-answer-hold: 60\n",
    "quotes-comments": b'# comment\nroot-hints: "/etc/root hints" # trailing\n'
    b"control-socket: /run/h#x.sock\n   \t\n",
    "crlf": b"server:\r\n\tnum-threads: 2\r\n",
    "no-final-newline": b"port: 53",
    "nul-byte": b"port: 5\x003\n",
    "unknown-key": b"no-such-key: 1\n",
    "missing-colon": b"port 53\n",
    "missing-value": b"port:\n",
    "unterminated-quote": b'root-hints: "/x\n',
    "out-of-range": b"edns-buffer-size: 70000\n",
    "min-over-max": b"cache-min-ttl: 100\ncache-max-ttl: 10\n",
    "no-transport": b"do-ip4: no\ndo-ip6: no\n",
    "outgoing": b"outgoing-interface: 192.0.2.7\noutgoing-interface: 2001:db8::7\n",
    "timeouts": b"stale-answer-client-timeout: 0\nserve-expired-client-timeout: 1800\n"
    b"stale-refresh-time: 30\nserve-expired-ttl: 86400\ntcp-idle-timeout: 10000\n"
    b"incoming-num-tcp: 10\n",
}

os.makedirs(OUT, exist_ok=True)
for name, text in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(text)
shutil.copyfile(os.path.join(HERE, "..", "conf", "holdfast.conf"), os.path.join(OUT, "example-conf"))
