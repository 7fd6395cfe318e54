"""Step 4a of ``lab import``: the customer's command, changed only where the lab needs it. Pure.

Changed, each with a note: the program (``/usr/local/bin/curl``, ``curl.exe``: the lab's ``curl``); the
customer's certificate and CA files (the lab's files that make the same thing happen: the client
certificate the server's alert calls for, the lab's root CA for ``--cacert``); files curl would write into
the project (``-o``, ``-O``, ``-D``, ``-c``, traces); a time limit where the customer's curl waited for an
answer that never came; options today's curl does not know; redacted values and shell variables the paste
never set. Proxy variables from the environment stay in ``run`` as ``env https_proxy=... curl ...``.
"""

from __future__ import annotations

import re
import shlex

from lab.apps.importer._behave import quiet_refusal
from lab.apps.importer._observe import Observation
from lab.apps.importer._redact import redacted
from lab.protocols.curlargs import parse_command, parse_options

HANG_LIMIT = 3  # seconds: the -m a request that never got an answer is replayed with
WAITING = ("hang", "silent", "connect-timeout", "proxy-timeout")
# The lab client certificate that makes a server send each alert (OpenSSL chooses it from the check it fails).
LAB_CERT_FOR_ALERT = {
    "unknown_ca": "rogue-client",
    "certificate_expired": "expired-client",
    "unsupported_certificate": "noeku-client",
    "bad_certificate": "future-client",
}
_WRITES = ("output", "dump-header", "cookie-jar", "trace", "trace-ascii", "stderr", "libcurl", "etag-save", "hsts")
_DROPS = ("remote-name", "remote-name-all", "output-dir", "config", "remote-header-name", "create-dirs")
# Options that name the customer's machine (its interfaces, DNS servers, DoH resolver): the lab has none of them.
_MACHINE = ("interface", "local-port", "dns-servers", "dns-interface", "dns-ipv4-addr", "dns-ipv6-addr", "doh-url")
_READS = ("upload-file", "data", "data-binary", "data-ascii", "data-urlencode", "form", "json")
_SILENT_SINKS = ("/dev/null", "-", "nul", "NUL", "%")


def lab_client_cert(obs: Observation) -> str:
    """Which lab certificate stands for the customer's ``--cert``."""
    situation = obs.situation
    if situation.kind == "tls-alert" and situation.point == "client-cert" and situation.alert in LAB_CERT_FOR_ALERT:
        return LAB_CERT_FOR_ALERT[situation.alert]
    if quiet_refusal(obs):  # a load balancer refused the certificate without saying why: one it does not trust
        return "rogue-client"
    return "client"


def _files(obs: Observation, argv: list[str], changes: list[str]) -> list[str]:
    """The customer's certificate files -> the lab's."""
    situation = obs.situation
    cert = lab_client_cert(obs)
    wanted = {
        "cert": f"certs/{cert}.crt",
        "key": f"certs/{cert}.key",
        "proxy-cert": "certs/client.crt",
        "proxy-key": "certs/client.key",
        "cacert": "certs/lab-root-ca.crt",
        "proxy-cacert": "certs/lab-root-ca.crt",
        "capath": "/etc/ssl/certs",
        "proxy-capath": "/etc/ssl/certs",
    }
    if situation.kind == "client-cert-file":  # a file curl could not use: keep the customer's (missing) one
        wanted.pop("key" if "private key" in situation.evidence else "cert")
    if situation.kind == "ca-file":
        wanted.pop("cacert")
    options = parse_command(argv, lenient=True)
    types = [g for g in options.given if g.name in ("cert-type", "key-type") and (g.value or "").upper() != "PEM"]
    if types and ("cert" in wanted or "key" in wanted):  # the lab's files are PEM
        changes += [f"{g.spelling} {g.value} dropped (the lab's certificate files are PEM)" for g in types]
        argv = list(options.without("cert-type", "key-type"))
    for name, lab_file in wanted.items():
        options = parse_command(argv, lenient=True)
        given = [g for g in options.given if g.name == name and g.value is not None and g.value != lab_file]
        if given:
            why = "the lab's client certificate" if "cert" in name or "key" in name else "the lab's CA"
            if name == "cert" and cert != "client":
                why = f"the lab certificate that makes a server answer {situation.alert}"
                if situation.alert is None:
                    why = "a lab certificate the load balancer does not trust: it refused the customer's"
            changes += [f"{g.spelling} {g.value} -> {lab_file} ({why})" for g in given]
            argv = list(options.with_value(name, lab_file))
    options = parse_command(argv, lenient=True)
    if "key" in wanted and options.uses("cert") and not options.uses("key"):  # a PKCS#12 held both; the lab's are two
        argv[1:1] = ["--key", wanted["key"]]
        changes.append(f"--key {wanted['key']} added (the lab's certificate and key are separate files)")
    return argv


def _writes(argv: list[str], changes: list[str]) -> list[str]:
    """Nothing curl writes lands in the project: -o and friends go to /dev/null, -O and -K go."""
    options = parse_command(argv, lenient=True)
    for name in _WRITES:
        given = [g for g in options.given if g.name == name and g.value not in _SILENT_SINKS]
        if given:
            changes.append(f"--{name} {given[0].value} -> /dev/null (the lab writes no files)")
            argv = list(parse_command(argv, lenient=True).with_value(name, "/dev/null"))
    options = parse_command(argv, lenient=True)
    dropped = [g for g in options.given if g.name in _DROPS]
    if dropped:
        changes += [f"{g.spelling} dropped (the lab writes no files and reads no config)" for g in dropped]
        argv = list(options.without(*_DROPS))
        if any(g.name.startswith("remote-name") for g in dropped):
            argv[1:1] = ["-o", "/dev/null"]
    return argv


def _machine(argv: list[str], changes: list[str]) -> list[str]:
    """Options that only make sense on the customer's machine go; files curl would read become /dev/null."""
    options = parse_command(argv, lenient=True)
    mine = [g for g in options.given if g.name in _MACHINE]
    if mine:
        changes += [f"{g.spelling} {g.value} dropped (the customer's machine, not the lab's)" for g in mine]
        argv = list(options.without(*_MACHINE))
        options = parse_command(argv, lenient=True)
    words = list(options.args)
    for g in options.given:
        if g.name not in _READS or g.value is None or g.value_word is None:
            continue
        value = g.value
        if g.name == "upload-file" and value not in ("-", "."):
            value = "/dev/null"
        else:  # -d @file, -F name=@file, -F name=<file
            value = re.sub(r"(^@|=@|=<)([^;,\s]+)", lambda m: m.group(1) + "/dev/null", value)
        if value != g.value:
            changes.append(f"{g.spelling} {g.value} -> {value} (the customer's file is not here)")
            words[g.value_word] = value
    return [options.program, *words]


def _time_limit(obs: Observation, argv: list[str], changes: list[str]) -> list[str]:
    if obs.situation.kind not in WAITING:
        return argv
    options = parse_command(argv, lenient=True)
    for name in ("max-time", "connect-timeout"):
        given = options.last(name)
        if given is not None and _seconds(given) > HANG_LIMIT:
            changes.append(f"--{name} {given} -> {HANG_LIMIT} (the replay need not wait that long)")
            argv = list(options.with_value(name, str(HANG_LIMIT)))
            options = parse_command(argv, lenient=True)
    if options.last("max-time") is None:
        argv[1:1] = ["-m", str(HANG_LIMIT)]
        changes.append(f"-m {HANG_LIMIT} added: in the transcript no answer came")
    return argv


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("inf")


def _unknown_options(obs: Observation, argv: list[str], changes: list[str]) -> list[str]:
    """Options the lab's curl does not know: dropped, unless the customer's curl refused them too."""
    if obs.situation.kind == "usage":
        return argv
    kept = [argv[0]]
    for word in argv[1:]:
        if word.startswith("--") and any("is unknown" in e for e in parse_options((word,), lenient=True).errors):
            changes.append(f"{word} dropped: the lab's curl does not know it (a newer curl's option)")
            continue
        kept.append(word)
    return kept


def lab_command(obs: Observation) -> tuple[list[str], list[str], list[str]]:
    """(argv with ``env`` prefix, what was changed, what is left to check) for the replay."""
    changes: list[str] = []
    todos: list[str] = []
    argv = list(obs.options.argv)
    argv = _unknown_options(obs, argv, changes)
    argv = _files(obs, argv, changes)
    argv = _writes(argv, changes)
    argv = _machine(argv, changes)
    argv = _time_limit(obs, argv, changes)
    unset = [w for w in argv if re.search(r"\$\{?[A-Za-z_]", w)]
    if unset:
        todos.append(f"shell variables the paste never sets stay as typed: {', '.join(unset)}")
    secrets = [w for w in argv[1:] if redacted(w) and "://" not in w]
    if secrets:
        todos.append(f"redacted in the paste, replayed as typed: {', '.join(secrets)}")
    env = [f"{k}={v}" for k, v in obs.env]
    return (["env", *env, *argv] if env else argv), changes, todos


def run_text(argv: list[str]) -> str:
    return shlex.join(argv)
