"""The lab's curl emulator: where curl 7.88 will send a request, and why, from its command line alone.

Theory of operation. curl makes its routing decisions before it sends a byte, from four inputs: the
command line, the proxy environment variables, its DNS cache (``--resolve``) and the system resolver (the
client's hosts file here). :func:`plan` replays those decisions in the order libcurl makes them
(``lib/url.c``: ``create_conn_helper_init_proxy`` / ``detect_proxy`` / ``Curl_check_noproxy``, then
``parse_connect_to_slist``, then the name resolution in ``lib/connect.c`` / ``lib/hostip.c``):

1. **Proxy.** ``-x``/``--proxy`` or ``--socks5``/``--socks5-hostname``/``--socks4``/``--socks4a`` (one
   setting: the last of them given wins); otherwise ``<scheme>_proxy`` (``https_proxy`` then
   ``HTTPS_PROXY``; for http only the lowercase ``http_proxy``), then ``all_proxy``/``ALL_PROXY``.
   ``--noproxy`` (else ``no_proxy``/``NO_PROXY``) matched against the URL's host removes *any* proxy, even
   one given with ``-x``. ``-x ""`` means none.
2. **--connect-to.** The first ``HOST1:PORT1:HOST2:PORT2`` whose HOST1/PORT1 match the URL (empty matches
   anything) replaces the host and port curl connects to - or asks the proxy for. Never the SNI or Host.
3. **Who resolves.** Without a proxy, or with ``socks5://``/``socks4://``, curl resolves the (connect-to)
   host itself: ``--resolve`` entries first, then the hosts file. Through an HTTP proxy or ``socks5h://``
   curl sends the *name* and the proxy resolves it; curl only resolves the proxy's own host.
4. **TLS and HTTP.** SNI is the URL's host (none for an IP literal); the server certificate is checked
   against the URL's host unless ``-k``; Host/:authority is the URL's host (and port if not the default).

The command line itself is read by :mod:`lab.protocols.curlargs` (curl's option parser, shared with the
rest of the lab). Pure: no sockets, no processes. ``tests/test_curlplan.py`` checks every prediction against
real curl.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from lab.protocols.curlargs import CurlUsageError, Dialect, Options, one_request_method, parse_command
from lab.protocols.curlexit import CurlExit
from lab.protocols.netaddr import bracket, format_address, is_ip

DEFAULT_PORTS = {"http": 80, "https": 443}
PROXY_SCHEMES = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")
CURL_DEFAULT_PROXY_PORT = 1080  # libcurl's default for a proxy given without a port (https:// proxies: 443)

Resolver = Literal["client", "proxy", "nobody"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Url:
    scheme: str
    host: str  # without brackets
    port: int
    path: str

    @property
    def ip_literal(self) -> bool:
        return is_ip(self.host)

    @property
    def authority(self) -> str:
        host = bracket(self.host)
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
        return format_address(self.host, self.port)

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
    more: tuple[str, ...] = ()  # further addresses (--resolve HOST:PORT:A,B): curl tries them in order

    @property
    def listed(self) -> str:
        """The address, or all of them in curl's order."""
        return ", ".join((self.address or "", *self.more))


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What curl will do with a command line, before it runs. Every field is checked against real curl."""

    argv: tuple[str, ...]
    env: dict[str, str]
    curl_version: str | None = None  # the release whose command-line reading this is (None: 7.88.1)
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
    def expected_exit(self) -> CurlExit | None:
        """curl's exit code when the plan alone decides it (usage error, unresolvable name)."""
        if self.usage_error:
            return CurlExit.FAILED_INIT
        if self.lookup is not None and self.lookup.address is None:
            return CurlExit.COULDNT_RESOLVE_PROXY if self.proxy is not None else CurlExit.COULDNT_RESOLVE_HOST
        if self.target_lookup is not None and self.target_lookup.address is None:
            socks = self.proxy is not None and self.proxy.scheme.startswith("socks")
            return CurlExit.PROXY if socks else CurlExit.COULDNT_RESOLVE_HOST
        return None


# ---------------------------------------------------------------------------------------------------------
# the routing decisions


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
        if is_ip(name):
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
    no_proxy = options.last("noproxy")
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
    """curl's own resolution: its DNS cache (``--resolve``, even for an address: ``Curl_resolv`` asks the cache
    first), then an IP literal as it is, then the system (hosts file)."""
    bare = name.strip("[]")
    cache: dict[tuple[str, int], tuple[tuple[str, ...], str]] = {}
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
        addresses = tuple(a.strip().strip("[]") for a in fields[2].split(",") if a.strip())
        cache[(fields[0].lower(), int(fields[1]))] = (addresses, entry)
    hit = cache.get((bare.lower(), port)) or cache.get(("*", port))  # "*" after the name, as lib/hostip.c
    if hit is not None:
        first, *more = hit[0] or ("",)
        return Lookup(name=bare, port=port, address=first, how="--resolve", entry=hit[1], more=tuple(more))
    if is_ip(bare):
        return Lookup(name=bare, port=port, address=bare, how="IP literal")
    table = {"localhost": "127.0.0.1", **{k.lower(): v for k, v in hosts.items()}}
    found = table.get(bare.lower())
    if found is not None:
        return Lookup(name=bare, port=port, address=found, how="hosts file", entry=f"{found} {bare}")
    return Lookup(name=bare, port=port, address=None, how="not found")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Route:
    """How curl reaches the target: its own lookup, its TCP connection, what it asks a proxy for."""

    lookup: Lookup
    tcp: tuple[str, int] | None
    tunnel: str | None = None
    tunnel_kind: str | None = None
    resolver: Resolver = "client"
    target_lookup: Lookup | None = None


def _route(url: Url, proxy: Proxy | None, target: tuple[str, int], options: Options, hosts: dict[str, str]) -> _Route:
    """Steps 3 and 4 of the theory of operation: who resolves what, where the TCP connection goes."""
    host, port = target
    if proxy is None:
        first = lookup(host, port, options.resolve, hosts)
        tcp = (first.address, port) if first.address else None
        return _Route(lookup=first, tcp=tcp, resolver="nobody" if first.how == "IP literal" else "client")
    first = lookup(proxy.host, proxy.port, options.resolve, hosts)
    tcp = (first.address, proxy.port) if first.address else None
    if proxy.scheme.startswith("socks"):
        kind = f"{proxy.scheme[:6].upper()} CONNECT"
    elif url.scheme == "https" or options.flag("proxytunnel"):
        kind = "CONNECT"
    else:
        kind = "GET (forwarded)"
    if proxy.resolves_names:
        resolver: Resolver = "nobody" if is_ip(host) else "proxy"
        return _Route(lookup=first, tcp=tcp, tunnel=format_address(host, port), tunnel_kind=kind, resolver=resolver)
    # socks5:// and socks4://: curl resolves, the proxy gets an address
    target_lookup = lookup(host, port, options.resolve, hosts)
    return _Route(
        lookup=first,
        tcp=tcp,
        tunnel=format_address(target_lookup.address, port) if target_lookup.address else None,
        tunnel_kind=kind,
        resolver="nobody" if target_lookup.how == "IP literal" else "client",
        target_lookup=target_lookup,
    )


def plan(
    argv: tuple[str, ...] | list[str], env: dict[str, str], hosts: dict[str, str], *, curl_version: str | None = None
) -> Plan:
    """Predict curl's routing for ``argv`` (starting with ``curl``) with ``env`` and the client's hosts file.

    ``curl_version`` (``"8.14.1"``) picks how that release reads its command line (:class:`Dialect`).
    """
    args = tuple(argv)
    dialect = Dialect.of(curl_version)
    try:
        options = parse_command(args, dialect=dialect)
        if not options.urls:
            raise CurlUsageError(dialect.no_url)
        url = parse_url(options.urls[0])
        one_request_method(options)
        proxy, reported, why_none = choose_proxy(url, options, env)
        connect = match_connect_to(options.values("connect-to"), url.host, url.port)
    except CurlUsageError as exc:
        return Plan(argv=args, env=dict(env), curl_version=curl_version, usage_error=f"curl: {exc}")
    target_host, target_port = (connect[1], connect[2]) if connect else (url.host, url.port)
    route = _route(url, proxy, (target_host, target_port), options, hosts)
    host_header = next(
        (h.split(":", 1)[1].strip() for h in options.values("header") if h.lower().startswith("host:")), url.authority
    )
    tls = url.scheme == "https"
    return Plan(
        argv=args,
        env=dict(env),
        curl_version=curl_version,
        url=url,
        proxy=proxy,
        proxy_env=reported,
        no_proxy=why_none,
        ignored_env=ignored_proxy_env(url, env, proxy),
        connect_to=connect[0] if connect else None,
        target_host=target_host,
        target_port=target_port,
        lookup=route.lookup,
        tcp=route.tcp,
        tunnel=route.tunnel,
        tunnel_kind=route.tunnel_kind,
        resolver=route.resolver,
        target_lookup=route.target_lookup,
        sni=url.host if tls and not url.ip_literal else None,
        host_header=host_header,
        verify_name=url.host if tls and not options.flag("insecure") else None,
        client_cert=options.last("cert") if tls else None,
        options=options,
    )
