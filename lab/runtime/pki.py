"""The lab's PKI: a public-CA stand-in, a client CA, and the certificates every host and learner uses.

Theory of operation: everything is generated at run time with ``cryptography`` and cached in ``certs/``
(git-ignored, keys 0600). A manifest records what each file was made from; a file is made again when its
spec changes, when it would expire within a week, or when its issuer was made again. So nothing expires
by accident, and the only expired certificate is the one that is meant to be (``expired-client``).

Why ``cryptography`` and not trustme (which the tests use for throwaway PKIs): the lessons need
certificates trustme cannot express - the seed's EV subject (jurisdictionCountryName, businessCategory,
serialNumber), a client certificate whose EKU lacks clientAuth, and one that expired on purpose.

Fixed paths that docs and commands use::

    certs/lab-root-ca.crt         the client's trust store (the public CA stand-in)
    certs/client.crt|.key         valid client certificate (clientAuth EKU), issued by the lab client CA
    certs/rogue-client.crt|.key   issued by a CA the load balancer does not trust
    certs/expired-client.crt|.key expired a month ago
    certs/noeku-client.crt|.key   EKU serverAuth only, no clientAuth
    certs/future-client.crt|.key  valid only from next month (a server says: bad_certificate)
    certs/client-ca.crt           the load balancer's trust anchor for client certificates

and one client certificate per way Google's load balancer refuses one (``CLIENTS`` below: key types and
sizes, a CA leaf, chains too deep, too large or too constrained), each in ``certs/NAME.crt`` with the
intermediates it needs after it, as a client sends them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import ipaddress
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from lab.model.certspec import CertSpec
from lab.model.scenario import Host
from lab.paths import CERT_DIR
from lab.runtime.certbuild import (
    CLIENTS,
    EKUS,
    LIFETIME,
    ClientSpec,
    Key,
    KeySpec,
    base,
    intermediates,
    leaf_extensions,
    new_key,
    sign,
    x509_name,
)

VERSION = 3  # bump to regenerate everything after a change to this module
RENEW_BEFORE = dt.timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Pair:
    """A certificate file (leaf first, then intermediates) and its private key file."""

    cert: Path
    key: Path

    def load_cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificates(self.cert.read_bytes())[0]


@dataclass(slots=True)
class _Made:
    """A certificate made or reused. The key is loaded only when something must be signed with it:
    loading RSA keys dominates a warm start."""

    cert: x509.Certificate
    pair: Pair
    _key: Key | None = None

    @property
    def key(self) -> Key:
        if self._key is None:
            loaded = serialization.load_pem_private_key(
                self.pair.key.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
            )
            if not isinstance(loaded, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
                raise ValueError(f"{self.pair.key} holds no key the lab makes; delete certs/ to start over")
            self._key = loaded
        return self._key


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class Pki:
    """Makes (or reuses) the lab's certificates under ``directory``."""

    def __init__(self, directory: Path = CERT_DIR) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._manifest_path = self.dir / "manifest.json"
        self._manifest: dict[str, Any] = {}
        self._made: dict[str, _Made] = {}
        self._dirty = False
        with self._locked():
            self._make_all()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One process at a time makes certificates: labs started at once on a fresh machine (a workshop's first
        visits) would otherwise each make a root, and sign leaves with a root another one then replaces. Under
        the lock the manifest is read afresh, so what another process made meanwhile is reused."""
        with open(self.dir / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self._manifest = json.loads(self._manifest_path.read_text())
            except (OSError, ValueError):
                self._manifest = {}
            if self._manifest.get("version") != VERSION:
                self._manifest = {"version": VERSION, "items": {}}
            try:
                yield
            finally:
                self.save()

    def _make_all(self) -> None:
        self.root = self._ca(
            "lab-root-ca", x509_name(C="US", O="Lab Trust Services", CN="Lab Root CA (public CA stand-in)")
        )
        self.ev = self._ca(
            "ev-intermediate",
            x509_name(C="US", O="DigiCert Inc (lab stand-in)", CN="DigiCert EV RSA CA G2 (lab)"),
            issuer=self.root,
            path_length=0,
        )
        client_ca_name = x509_name(C="GB", O="Lab Client CA", CN="Lab Client CA")
        self.client_ca = self._ca("client-ca", client_ca_name, path_length=None)  # deep chains hang below it
        self.rogue_ca = self._ca("rogue-ca", x509_name(C="XX", O="Rogue Inc", CN="Rogue Client CA"))
        self.clients = {name: self._client(name, spec) for name, spec in CLIENTS.items()}
        self.client = self.clients["client"]
        self.rogue_client = self.clients["rogue-client"]
        self.expired_client = self.clients["expired-client"]
        self.noeku_client = self.clients["noeku-client"]

    # -- public API -------------------------------------------------------------------------------

    def server(self, host: Host, other: CertSpec | None = None) -> Pair:
        """The certificate a TLS host presents, made from its ``cert`` settings (or ``other``: another of its
        certificates, as a load balancer with several has)."""
        cert = other or getattr(host.settings, "cert", None)
        if not isinstance(cert, CertSpec):  # a plain HTTP proxy has none
            raise TypeError(f"a {host.kind} host presents no certificate")
        spec = {
            "names": list(cert.names),
            "ips": list(cert.ips),
            "subject": dict(cert.subject),
            "issuer": cert.issuer,
            "expired": cert.expired,
            **({"intermediate": False} if not cert.intermediate else {}),
        }
        issuers = {"ev": self.ev, "root": self.root, "rogue": self.rogue_ca, "rogue-chain": self.rogue_ca, "self": None}
        issuer = issuers[cert.issuer]
        subject = x509_name(**dict(cert.subject))
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in cert.names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in cert.ips]
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
        with self._locked():
            made = self._leaf(
                f"hosts/{host.name}-{digest}",
                subject,
                issuer,
                sans=sans,
                eku=[ExtendedKeyUsageOID.SERVER_AUTH],
                expired=cert.expired,
                spec=spec,
                with_root=cert.issuer == "rogue-chain",  # the untrusted root sent along: "self-signed ... in chain"
                chain=cert.intermediate,
            )
        return made.pair

    @property
    def trust_bundle(self) -> Path:
        return self.root.pair.cert

    def save(self) -> None:
        if self._dirty:
            tmp = self._manifest_path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self._manifest, indent=1, sort_keys=True))
            tmp.replace(self._manifest_path)
            self._dirty = False

    # -- making certificates ----------------------------------------------------------------------

    def _ca(self, name: str, subject: x509.Name, issuer: _Made | None = None, path_length: int | None = 1) -> _Made:
        def build(key: Key, now: dt.datetime) -> x509.CertificateBuilder:
            signer = (issuer.cert.subject, issuer.key) if issuer else None
            builder = self._base(subject, key, signer, now, lifetime=LIFETIME * 4)
            return builder.add_extension(
                x509.BasicConstraints(ca=True, path_length=path_length), critical=True
            ).add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)

        return self._make(name, {"subject": subject.rfc4514_string()}, issuer, build, chain=False)

    def _client(self, name: str, spec: ClientSpec) -> _Made:
        subject = x509_name(C="GB", O="Lab Learners", CN=f"lab {name}")
        # A SAN, as real client certificates carry (and cryptography's client verifier requires); the
        # SPIFFE URI feeds the load balancer's {client_cert_spiffe_id} header variable.
        sans: list[x509.GeneralName] = [
            x509.DNSName(f"{name}.lab.example"),
            x509.UniformResourceIdentifier(f"spiffe://lab.example/learner/{name}"),
        ]
        issuer = {"client-ca": self.client_ca, "rogue-ca": self.rogue_ca}[spec.issuer]
        eku = [EKUS[e] for e in spec.eku]
        if spec.chain:
            return self._chained(name, spec, subject, sans, issuer)
        extra = {"key": list(spec.key), "ca": spec.ca} if (spec.key, spec.ca) != (("rsa", 2048), False) else {}
        if spec.starts_in_days:
            extra["starts_in_days"] = spec.starts_in_days
        return self._leaf(
            name,
            subject,
            issuer,
            sans=sans,
            eku=eku,
            expired=spec.expired,
            spec=extra,
            chain=False,
            key=spec.key,
            ca=spec.ca,
            starts_in=dt.timedelta(days=spec.starts_in_days),
        )

    def _leaf(
        self,
        name: str,
        subject: x509.Name,
        issuer: _Made | None,  # None: self-signed
        *,
        sans: list[x509.GeneralName],
        eku: list[x509.ObjectIdentifier],
        expired: bool,
        spec: dict[str, Any],
        chain: bool = True,
        key: KeySpec = ("rsa", 2048),
        ca: bool = False,
        starts_in: dt.timedelta = dt.timedelta(0),
        with_root: bool = False,
    ) -> _Made:
        def build(public: Key, now: dt.datetime) -> x509.CertificateBuilder:
            start = now - dt.timedelta(days=60) if expired else now + starts_in
            lifetime = dt.timedelta(days=30) if expired else LIFETIME
            signer = (issuer.cert.subject, issuer.key) if issuer else None  # None: self-signed
            builder = self._base(subject, public, signer, start, lifetime=lifetime)
            return leaf_extensions(builder, sans, eku, ca=ca)

        full_spec = {**spec, "subject": subject.rfc4514_string(), "eku": [o.dotted_string for o in eku]}
        return self._make(name, full_spec, issuer, build, chain=chain, expired=expired, key=key, with_root=with_root)

    def _chained(
        self, name: str, spec: ClientSpec, subject: x509.Name, sans: list[x509.GeneralName], issuer: _Made
    ) -> _Made:
        """A leaf and the intermediates made for it (their keys are not kept: only the leaf signs later)."""
        cert_path, key_path = self.dir / f"{name}.crt", self.dir / f"{name}.key"
        fingerprint = self._fingerprint({"chain": spec.chain, "subject": subject.rfc4514_string()}, issuer)
        made = self._reuse(name, fingerprint, cert_path, key_path, expired=False)
        if made is not None:
            return made
        now = _now()
        signers = intermediates(spec.chain, (issuer.cert.subject, issuer.key), now)
        leaf_key = new_key(spec.key)
        signer_name, signer_key = signers[-1][0].subject, signers[-1][1]
        builder = self._base(subject, leaf_key, (signer_name, signer_key), now, lifetime=LIFETIME)
        leaf = sign(leaf_extensions(builder, sans, [EKUS[e] for e in spec.eku]), signer_key)
        sent = [c for c, _ in signers] if spec.chain == "same-key" else [c for c, _ in reversed(signers)]
        pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in [leaf, *sent])
        return self._store(name, fingerprint, leaf_key, leaf, pem)

    @staticmethod
    def _base(
        subject: x509.Name,
        key: Key,
        issuer: tuple[x509.Name, Key] | None,
        start: dt.datetime,
        lifetime: dt.timedelta,
    ) -> x509.CertificateBuilder:
        """Subject, key, validity and key identifiers; ``issuer`` is (name, key), or None: self-signed."""
        return base(subject, key, issuer, start, lifetime)

    def _make(
        self,
        name: str,
        spec: dict[str, Any],
        issuer: _Made | None,
        build: Any,
        *,
        chain: bool,
        expired: bool = False,
        key: KeySpec = ("rsa", 2048),
        with_root: bool = False,
    ) -> _Made:
        cert_path, key_path = self.dir / f"{name}.crt", self.dir / f"{name}.key"
        fingerprint = self._fingerprint(spec, issuer)
        made = self._reuse(name, fingerprint, cert_path, key_path, expired)
        if made is None:
            private = new_key(key)
            cert = sign(build(private, _now()), issuer.key if issuer else private)
            pem = cert.public_bytes(serialization.Encoding.PEM)
            if chain and issuer and (issuer.cert.issuer != issuer.cert.subject or with_root):
                pem += issuer.cert.public_bytes(serialization.Encoding.PEM)
            made = self._store(name, fingerprint, private, cert, pem)
        self._made[name] = made
        return made

    @staticmethod
    def _fingerprint(spec: dict[str, Any], issuer: _Made | None) -> str:
        """What a certificate was made from: its spec and its issuer (a remade issuer remakes it)."""
        made_from = {"spec": spec, "issuer": issuer and issuer.cert.fingerprint(hashes.SHA256()).hex()}
        return hashlib.sha256(json.dumps(made_from, sort_keys=True).encode()).hexdigest()

    def _store(self, name: str, fingerprint: str, key: Key, cert: x509.Certificate, pem: bytes) -> _Made:
        cert_path, key_path = self.dir / f"{name}.crt", self.dir / f"{name}.key"
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        private = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write(key_path, private, mode=0o600)
        _write(cert_path, pem, mode=0o644)
        self._manifest["items"][name] = {"fingerprint": fingerprint}
        self._dirty = True
        return _Made(cert, Pair(cert_path, key_path), key)

    def _reuse(self, name: str, fingerprint: str, cert_path: Path, key_path: Path, expired: bool) -> _Made | None:
        if self._manifest["items"].get(name, {}).get("fingerprint") != fingerprint:
            return None
        try:
            cert = x509.load_pem_x509_certificates(cert_path.read_bytes())[0]
        except (OSError, ValueError):
            return None
        if not key_path.exists():
            return None
        if not expired and cert.not_valid_after_utc - _now() < RENEW_BEFORE:
            return None
        return _Made(cert, Pair(cert_path, key_path))


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_suffix(f"{path.suffix}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    tmp.replace(path)
