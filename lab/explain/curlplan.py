"""The lab's curl emulator: where curl 7.88 will send a request, and why, from its command line alone.

Theory of operation. curl makes its routing decisions before it sends a byte, from four inputs: the
command line, the proxy environment variables, its DNS cache (``--resolve``) and the system resolver (the
client's hosts file here). :func:`plan` replays those decisions in the order libcurl makes them
(``lib/url.c``: ``create_conn_helper_init_proxy`` / ``detect_proxy`` / ``Curl_check_noproxy``, then
``parse_connect_to_slist``, then the name resolution in ``lib/connect.c`` / ``lib/hostip.c``):

1. **Proxy.** ``-x``/``--proxy`` (or ``--socks5``/``--socks5-hostname``/``--socks4``/``--socks4a``, which
   win over ``-x``); otherwise ``<scheme>_proxy`` (``https_proxy`` then ``HTTPS_PROXY``; for http only the
   lowercase ``http_proxy``), then ``all_proxy``/``ALL_PROXY``. ``--noproxy`` (else ``no_proxy``/``NO_PROXY``)
   matched against the URL's host removes *any* proxy, even one given with ``-x``. ``-x ""`` means none.
2. **--connect-to.** The first ``HOST1:PORT1:HOST2:PORT2`` whose HOST1/PORT1 match the URL (empty matches
   anything) replaces the host and port curl connects to - or asks the proxy for. Never the SNI or Host.
3. **Who resolves.** Without a proxy, or with ``socks5://``/``socks4://``, curl resolves the (connect-to)
   host itself: ``--resolve`` entries first, then the hosts file. Through an HTTP proxy or ``socks5h://``
   curl sends the *name* and the proxy resolves it; curl only resolves the proxy's own host.
4. **TLS and HTTP.** SNI is the URL's host (none for an IP literal); the server certificate is checked
   against the URL's host unless ``-k``; Host/:authority is the URL's host (and port if not the default).

Pure: no sockets, no processes. ``tests/test_curlplan.py`` checks every prediction against real curl.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

# From `curl --help all` of curl 7.88.1: long options that take an argument, and those that do not.
_WITH_ARG_TEXT = """
    abstract-unix-socket alt-svc aws-sigv4 cacert capath cert cert-type ciphers config connect-timeout connect-to
    continue-at cookie cookie-jar create-file-mode crlfile curves data data-ascii data-binary data-raw data-urlencode
    delegation dns-interface dns-ipv4-addr dns-ipv6-addr dns-servers doh-url dump-header egd-file engine etag-compare
    etag-save expect100-timeout form form-string ftp-account ftp-alternative-to-user ftp-method ftp-port
    ftp-ssl-ccc-mode happy-eyeballs-timeout-ms header help hostpubmd5 hostpubsha256 hsts interface json
    keepalive-time key key-type krb libcurl limit-rate local-port login-options mail-auth mail-from mail-rcpt
    max-filesize max-redirs max-time netrc-file noproxy oauth2-bearer output output-dir parallel-max pass
    pinnedpubkey preproxy proto proto-default proto-redir proxy proxy-cacert proxy-capath proxy-cert
    proxy-cert-type proxy-ciphers proxy-crlfile proxy-header proxy-key proxy-key-type proxy-pass proxy-pinnedpubkey
    proxy-service-name proxy-tls13-ciphers proxy-tlsauthtype proxy-tlspassword proxy-tlsuser proxy-user proxy1.0
    pubkey quote random-file range rate referer request request-target resolve retry retry-delay retry-max-time
    sasl-authzid service-name socks4 socks4a socks5 socks5-gssapi-service socks5-hostname speed-limit speed-time
    stderr telnet-option tftp-blksize time-cond tls-max tls13-ciphers tlsauthtype tlspassword tlsuser trace
    trace-ascii unix-socket upload-file url url-query user user-agent write-out"""
_LONG_WITH_ARG = frozenset(_WITH_ARG_TEXT.split())
_FLAGS_TEXT = """anyauth append basic cert-status compressed compressed-ssh create-dirs crlf digest disable disable-eprt
    disable-epsv disallow-username-in-url doh-cert-status doh-insecure fail fail-early fail-with-body false-start
    form-escape ftp-create-dirs ftp-pasv ftp-pret ftp-skip-pasv-ip ftp-ssl-ccc ftp-ssl-control get globoff
    haproxy-protocol head http0.9 http1.0 http1.1 http2 http2-prior-knowledge http3 http3-only ignore-content-length
    include insecure ipv4 ipv6 junk-session-cookies list-only location location-trusted mail-rcpt-allowfails manual
    metalink negotiate netrc netrc-optional no-alpn no-buffer no-clobber no-keepalive no-npn no-progress-meter
    no-sessionid ntlm ntlm-wb parallel parallel-immediate path-as-is post301 post302 post303 proxy-anyauth
    proxy-basic proxy-digest proxy-insecure proxy-negotiate proxy-ntlm proxy-ssl-allow-beast
    proxy-ssl-auto-client-cert proxy-tlsv1 proxytunnel raw remote-header-name remote-name remote-name-all
    remote-time remove-on-error retry-all-errors retry-connrefused sasl-ir show-error silent socks5-basic
    socks5-gssapi socks5-gssapi-nec ssl ssl-allow-beast ssl-auto-client-cert ssl-no-revoke ssl-reqd
    ssl-revoke-best-effort sslv2 sslv3 styled-output suppress-connect-headers tcp-fastopen tcp-nodelay
    tftp-no-options tlsv1 tlsv1.0 tlsv1.1 tlsv1.2 tlsv1.3 tr-encoding trace-time use-ascii verbose version xattr
    progress-bar next"""
_LONG_FLAGS = frozenset(_FLAGS_TEXT.split())
_SHORT_WITH_ARG = {
    "E": "cert", "K": "config", "C": "continue-at", "b": "cookie", "c": "cookie-jar", "d": "data",
    "D": "dump-header", "F": "form", "P": "ftp-port", "H": "header", "h": "help", "m": "max-time",
    "o": "output", "U": "proxy-user", "Q": "quote", "r": "range", "e": "referer", "X": "request",
    "Y": "speed-limit", "y": "speed-time", "t": "telnet-option", "z": "time-cond", "T": "upload-file",
    "u": "user", "A": "user-agent", "w": "write-out", "x": "proxy",
}  # fmt: skip
_SHORT_FLAGS = {
    "a": "append", "q": "disable", "f": "fail", "G": "get", "g": "globoff", "I": "head", "0": "http1.0",
    "i": "include", "k": "insecure", "4": "ipv4", "6": "ipv6", "j": "junk-session-cookies", "l": "list-only",
    "L": "location", "M": "manual", "n": "netrc", "N": "no-buffer", "Z": "parallel", "p": "proxytunnel",
    "R": "remote-time", "J": "remote-header-name", "O": "remote-name", "S": "show-error", "s": "silent",
    "2": "sslv2", "3": "sslv3", "1": "tlsv1", "B": "use-ascii", "v": "verbose", "V": "version",
    "#": "progress-bar", ":": "next",
}  # fmt: skip

DEFAULT_PORTS = {"http": 80, "https": 443}
PROXY_SCHEMES = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")
CURL_DEFAULT_PROXY_PORT = 1080  # libcurl's default for a proxy given without a port (https:// proxies: 443)

Resolver = Literal["client", "proxy", "nobody"]


class CurlUsageError(ValueError):
    """curl would refuse this command line before connecting (exit 2), with curl's own wording."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """The routing-relevant part of a curl command line, as curl's option parser reads it."""

    urls: tuple[str, ...] = ()
    proxy: str | None = None  # -x/--proxy, or a --socks* option rewritten as a proxy URL
    proxy_flag: str = ""  # which option set it: "-x", "--socks5-hostname", ...
    noproxy: str | None = None
    resolve: tuple[str, ...] = ()
    connect_to: tuple[str, ...] = ()
    insecure: bool = False
    proxytunnel: bool = False
    cert: str | None = None
    key: str | None = None
    cacert: str | None = None
    headers: tuple[str, ...] = ()
    verbose: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Url:
    scheme: str
    host: str  # without brackets
    port: int
    path: str

    @property
    def ip_literal(self) -> bool:
        return _is_ip(self.host)

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if DEFAULT_PORTS.get(self.scheme) == self.port else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Proxy:
    scheme: str  # http, https, socks4, socks4a, socks5, socks5h
    host: str
    port: int
    url: str  # as given
    source: str  # "-x", "--socks5-hostname", "https_proxy" (an env var name)...

    @property
    def from_env(self) -> bool:
        return not self.source.startswith("-")

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def resolves_names(self) -> bool:
        """socks5h, socks4a and HTTP proxies get the host name; socks5 and socks4 get an address."""
        return self.scheme in ("http", "https", "socks5h", "socks4a")


@dataclass(frozen=True, slots=True, kw_only=True)
class Lookup:
    """One name resolution by curl itself."""

    name: str
    port: int
    address: str | None  # None: curl cannot resolve it (exit 6, or 5 for a proxy)
    how: Literal["--resolve", "hosts file", "IP literal", "not found"]
    entry: str = ""  # the --resolve entry or hosts-file line that answered


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What curl will do with a command line, before it runs. Every field is checked against real curl."""

    argv: tuple[str, ...]
    env: dict[str, str]
    usage_error: str | None = None  # curl exits 2 with this message
    url: Url | None = None
    proxy: Proxy | None = None
    proxy_env: tuple[str, ...] = ()  # variables curl -v reports ("Uses proxy env variable ...")
    no_proxy: str = ""  # why a proxy was configured but not used, e.g. "NO_PROXY=mydomain matches mydomain"
    ignored_env: tuple[str, ...] = ()  # proxy variables set but not consulted, with why
    connect_to: str | None = None  # the --connect-to entry that applied
    target_host: str = ""  # the host curl connects to or asks the proxy for (after --connect-to)
    target_port: int = 0
    lookup: Lookup | None = None  # curl's own resolution for the TCP connection (proxy host or target)
    tcp: tuple[str, int] | None = None  # the address curl's TCP connection goes to
    tunnel: str | None = None  # what the proxy is asked for: "mydomain:443" (CONNECT / SOCKS / forward)
    tunnel_kind: str | None = None  # "CONNECT", "GET (forwarded)", "SOCKS5 CONNECT", ...
    resolver: Resolver = "client"  # who turns the target name into an address
    target_lookup: Lookup | None = None  # when curl resolves the target for a socks5/socks4 proxy
    sni: str | None = None
    host_header: str = ""
    verify_name: str | None = None  # what the server certificate must name; None with -k
    client_cert: str | None = None
    options: Options = field(default_factory=Options)

    @property
    def expected_exit(self) -> int | None:
        """curl's exit code when the plan alone decides it (usage error, unresolvable name)."""
        if self.usage_error:
            return 2
        if self.lookup is not None and self.lookup.address is None:
            return 5 if self.proxy is not None else 6
        if self.target_lookup is not None and self.target_lookup.address is None:
            return 97 if self.proxy and self.proxy.scheme.startswith("socks") else 6
        return None


# ---------------------------------------------------------------------------------------------------------
# the option parser


def parse_options(args: list[str] | tuple[str, ...]) -> Options:
    """Read curl's argv (without ``curl``) the way curl's option parser does, keeping what routes."""
    values: dict[str, list[str]] = {}
    flags: dict[str, bool] = {}
    urls: list[str] = []
    proxy_flag = ""
    socks_flag = ""
    i = 0
    only_urls = False
    while i < len(args):
        word = args[i]
        i += 1
        if only_urls or not word.startswith("-") or word == "-":
            urls.append(word)
            continue
        if word == "--":
            only_urls = True
            continue
        if word.startswith("--"):
            name, negated = _long_name(word[2:])
            if name in _LONG_WITH_ARG:
                if i >= len(args):
                    raise CurlUsageError(f"option {word}: requires parameter")
                values.setdefault(name, []).append(args[i])
                i += 1
                if name == "proxy":
                    proxy_flag = "--proxy"
                elif name in ("socks4", "socks4a", "socks5", "socks5-hostname"):
                    socks_flag = name
            else:
                flags[name] = not negated
            continue
        letters = word[1:]
        while letters:
            letter, letters = letters[0], letters[1:]
            if letter in _SHORT_WITH_ARG:
                name = _SHORT_WITH_ARG[letter]
                if letters:  # -xhttp://proxy
                    value, letters = letters, ""
                elif i < len(args):
                    value = args[i]
                    i += 1
                else:
                    raise CurlUsageError(f"option -{letter}: requires parameter")
                values.setdefault(name, []).append(value)
                if name == "proxy":
                    proxy_flag = "-x"
            elif letter in _SHORT_FLAGS:
                flags[_SHORT_FLAGS[letter]] = True
            else:
                raise CurlUsageError(f"option -{letter}: is unknown")
    proxy = _last(values, "proxy")
    if socks_flag:  # the tool sets CURLOPT_PROXY from --socks* after -x, so it wins whatever the order
        scheme = {"socks5-hostname": "socks5h"}.get(socks_flag, socks_flag)
        proxy, proxy_flag = f"{scheme}://{values[socks_flag][-1]}", "--" + socks_flag
    return Options(
        urls=tuple(urls + values.get("url", [])),
        proxy=proxy,
        proxy_flag=proxy_flag,
        noproxy=_last(values, "noproxy"),
        resolve=tuple(values.get("resolve", [])),
        connect_to=tuple(values.get("connect-to", [])),
        insecure=flags.get("insecure", False),
        proxytunnel=flags.get("proxytunnel", False),
        cert=_last(values, "cert"),
        key=_last(values, "key"),
        cacert=_last(values, "cacert"),
        headers=tuple(values.get("header", [])),
        verbose=flags.get("verbose", False),
    )


def _last(values: dict[str, list[str]], name: str) -> str | None:
    found = values.get(name)
    return found[-1] if found else None


def _long_name(word: str) -> tuple[str, bool]:
    """Exact name, or curl's unambiguous-prefix match; ``--no-FLAG`` turns a boolean off."""
    if word in _LONG_WITH_ARG or word in _LONG_FLAGS:
        return word, False
    if word.startswith("no-") and word[3:] in _LONG_FLAGS:
        return word[3:], True
    matches = [n for n in (*_LONG_WITH_ARG, *_LONG_FLAGS) if n.startswith(word)]
    if len(matches) == 1:
        return matches[0], False
    if len(matches) > 1:
        raise CurlUsageError(f"option --{word}: is ambiguous")
    raise CurlUsageError(f"option --{word}: is unknown")


# ---------------------------------------------------------------------------------------------------------
# the routing decisions


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def parse_url(text: str) -> Url:
    """curl's URL parse, for routing: a missing scheme means http://."""
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise CurlUsageError(f"URL {text!r} has no host")
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme, 0)
    except ValueError:
        raise CurlUsageError(f"URL {text!r} has a bad port number") from None
    return Url(scheme=scheme, host=host, port=port, path=parts.path or "/")


def parse_proxy(text: str, source: str) -> Proxy:
    """``http://10.9.9.9:3128``, ``10.9.9.9:3128`` (http), ``socks5h://h:1080``, ``user:pw@h:p``."""
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in PROXY_SCHEMES:
        raise CurlUsageError(f"unsupported proxy scheme {scheme!r} in {text!r} (curl exits 7)")
    host = parts.hostname or ""
    default = 443 if scheme == "https" else CURL_DEFAULT_PROXY_PORT
    return Proxy(scheme=scheme, host=host, port=parts.port or default, url=text, source=source)


def no_proxy_matches(host: str, patterns: str) -> bool:
    """``Curl_check_noproxy``: ``*`` alone matches all; names match as a domain suffix; IPs also by CIDR."""
    tokens = [t for t in patterns.replace(",", " ").split() if t]
    if patterns.strip() == "*":
        return True
    name = host.strip("[]").rstrip(".").lower()
    for token in tokens:
        token = token.lower().rstrip(".")
        if _is_ip(name):
            try:
                if ipaddress.ip_address(name) in ipaddress.ip_network(token.strip("[]"), strict=False):
                    return True
            except ValueError:
                continue
            continue
        token = token.removeprefix(".")
        if name == token or name.endswith("." + token):
            return True
    return False


def choose_proxy(url: Url, options: Options, env: dict[str, str]) -> tuple[Proxy | None, tuple[str, ...], str]:
    """(proxy, env vars curl -v reports, why a configured proxy is not used)."""
    reported: list[str] = []
    no_proxy = options.noproxy
    no_proxy_source = "--noproxy"
    if no_proxy is None:
        for name in ("no_proxy", "NO_PROXY"):
            if name in env:
                no_proxy, no_proxy_source = env[name], name
                reported.append(name)
                break
    if no_proxy is not None and no_proxy_matches(url.host, no_proxy):
        return None, tuple(reported), f"{no_proxy_source} {no_proxy!r} matches {url.host}: no proxy at all"
    if options.proxy is not None:
        if options.proxy == "":
            return None, tuple(reported), f'{options.proxy_flag} "" turns every proxy off, the environment too'
        return parse_proxy(options.proxy, options.proxy_flag), tuple(reported), ""
    names = [f"{url.scheme}_proxy"]
    if url.scheme != "http":  # curl never reads HTTP_PROXY (it could come from a CGI request header)
        names.append(f"{url.scheme.upper()}_PROXY")
    names += ["all_proxy", "ALL_PROXY"]
    for name in names:
        if env.get(name):
            reported.append(name)
            return parse_proxy(env[name], name), tuple(reported), ""
    return None, tuple(reported), ""


def ignored_proxy_env(url: Url, env: dict[str, str], used: Proxy | None) -> tuple[str, ...]:
    """Proxy variables that are set but that curl did not consult for this URL, and why."""
    notes = []
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        if name not in env or (used is not None and used.source == name):
            continue
        if name == "HTTP_PROXY":
            notes.append(f"{name}: curl never reads the uppercase HTTP_PROXY")
        elif name.lower().startswith(("http_", "https_")) and not name.lower().startswith(url.scheme + "_"):
            notes.append(f"{name}: only for {name.lower().split('_')[0]}:// URLs, this one is {url.scheme}://")
        elif used is not None:
            notes.append(f"{name}: not consulted, {used.source} already chose the proxy")
    return tuple(notes)


def match_connect_to(entries: tuple[str, ...], host: str, port: int) -> tuple[str, str, int] | None:
    """The first ``HOST1:PORT1:HOST2:PORT2`` matching host:port -> (entry, host2, port2)."""
    for entry in entries:
        fields = _split_host_fields(entry, 4)
        if fields is None:
            raise CurlUsageError(f"--connect-to {entry!r}: expected HOST1:PORT1:HOST2:PORT2")
        host1, port1, host2, port2 = fields
        if host1 and host1.lower() != host.lower():
            continue
        if port1 and port1 != str(port):
            continue
        try:
            return entry, host2 or host, int(port2) if port2 else port
        except ValueError:
            raise CurlUsageError(f"--connect-to {entry!r}: {port2!r} is not a port number") from None
    return None


def _split_host_fields(text: str, count: int) -> list[str] | None:
    """Split on ':' keeping ``[v6]`` hosts whole."""
    out: list[str] = []
    rest = text
    while rest and len(out) < count - 1:
        if rest.startswith("["):
            end = rest.find("]")
            if end < 0:
                return None
            out.append(rest[1:end])
            rest = rest[end + 1 :]
            if rest.startswith(":"):
                rest = rest[1:]
            continue
        head, sep, rest = rest.partition(":")
        if not sep:
            return None
        out.append(head)
    out.append(rest)
    return out if len(out) == count else None


def lookup(name: str, port: int, resolve: tuple[str, ...], hosts: dict[str, str]) -> Lookup:
    """curl's own resolution: IP literal, then its DNS cache (``--resolve``), then the system (hosts file)."""
    bare = name.strip("[]")
    if _is_ip(bare):
        return Lookup(name=bare, port=port, address=bare, how="IP literal")
    cache: dict[tuple[str, int], tuple[str, str]] = {}
    for entry in resolve:
        text = entry.removeprefix("+")
        if text.startswith("-"):
            fields = _split_host_fields(text[1:], 2)
            if fields:
                cache.pop((fields[0].lower(), int(fields[1]) if fields[1].isdigit() else -1), None)
            continue
        fields = _split_host_fields(text, 3)
        if fields is None or not fields[1].isdigit():
            raise CurlUsageError(f"--resolve {entry!r}: expected HOST:PORT:ADDRESS")
        address = fields[2].split(",")[0].strip("[]")
        cache[(fields[0].lower(), int(fields[1]))] = (address, entry)
    hit = cache.get((bare.lower(), port))
    if hit is not None:
        return Lookup(name=bare, port=port, address=hit[0], how="--resolve", entry=hit[1])
    table = {"localhost": "127.0.0.1", **{k.lower(): v for k, v in hosts.items()}}
    found = table.get(bare.lower())
    if found is not None:
        return Lookup(name=bare, port=port, address=found, how="hosts file", entry=f"{found} {bare}")
    return Lookup(name=bare, port=port, address=None, how="not found")


def plan(argv: tuple[str, ...] | list[str], env: dict[str, str], hosts: dict[str, str]) -> Plan:
    """Predict curl's routing for ``argv`` (starting with ``curl``) with ``env`` and the client's hosts file."""
    args = tuple(argv)
    try:
        options = parse_options(args[1:])
        if not options.urls:
            raise CurlUsageError("no URL specified")
        url = parse_url(options.urls[0])
        proxy, reported, why_none = choose_proxy(url, options, env)
        connect = match_connect_to(options.connect_to, url.host, url.port)
    except CurlUsageError as exc:
        return Plan(argv=args, env=dict(env), usage_error=f"curl: {exc}")
    target_host, target_port = (connect[1], connect[2]) if connect else (url.host, url.port)
    target = f"[{target_host}]:{target_port}" if ":" in target_host else f"{target_host}:{target_port}"
    tunnel: str | None = None
    kind: str | None = None
    target_lookup: Lookup | None = None
    resolver: Resolver = "client"
    if proxy is None:
        first = lookup(target_host, target_port, options.resolve, hosts)
        tcp = (first.address, target_port) if first.address else None
        resolver = "nobody" if first.how == "IP literal" else "client"
    else:
        first = lookup(proxy.host, proxy.port, options.resolve, hosts)
        tcp = (first.address, proxy.port) if first.address else None
        if proxy.resolves_names:
            tunnel = target
            resolver = "nobody" if _is_ip(target_host) else "proxy"
        else:  # socks5:// and socks4://: curl resolves, the proxy gets an address
            target_lookup = lookup(target_host, target_port, options.resolve, hosts)
            resolver = "nobody" if target_lookup.how == "IP literal" else "client"
            if target_lookup.address:
                address = target_lookup.address
                tunnel = f"[{address}]:{target_port}" if ":" in address else f"{address}:{target_port}"
        if proxy.scheme.startswith("socks"):
            kind = f"{proxy.scheme[:6].upper()} CONNECT"
        elif url.scheme == "https" or options.proxytunnel:
            kind = "CONNECT"
        else:
            kind = "GET (forwarded)"
    host_header = next(
        (h.split(":", 1)[1].strip() for h in options.headers if h.lower().startswith("host:")), url.authority
    )
    tls = url.scheme == "https"
    return Plan(
        argv=args,
        env=dict(env),
        url=url,
        proxy=proxy,
        proxy_env=reported,
        no_proxy=why_none,
        ignored_env=ignored_proxy_env(url, env, proxy),
        connect_to=connect[0] if connect else None,
        target_host=target_host,
        target_port=target_port,
        lookup=first,
        tcp=tcp,
        tunnel=tunnel,
        tunnel_kind=kind,
        resolver=resolver,
        target_lookup=target_lookup,
        sni=url.host if tls and not url.ip_literal else None,
        host_header=host_header,
        verify_name=url.host if tls and not options.insecure else None,
        client_cert=options.cert if tls else None,
        options=options,
    )
