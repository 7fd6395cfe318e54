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
    certs/client-ca.crt           the load balancer's trust anchor for client certificates
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lab.model.hostsettings import SUBJECT_KEYS, CertSpec
from lab.model.scenario import Host
from lab.paths import CERT_DIR

VERSION = 2  # bump to regenerate everything after a change to this module
RENEW_BEFORE = dt.timedelta(days=7)
LIFETIME = dt.timedelta(days=90)

# The X.509 attribute for each ``cert.subject`` field (named as curl -v prints them).
SUBJECT_FIELDS = {
    "jurisdictionCountryName": NameOID.JURISDICTION_COUNTRY_NAME,
    "businessCategory": NameOID.BUSINESS_CATEGORY,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CN": NameOID.COMMON_NAME,
}
assert set(SUBJECT_FIELDS) == set(SUBJECT_KEYS)


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
    _key: rsa.RSAPrivateKey | None = None

    @property
    def key(self) -> rsa.RSAPrivateKey:
        if self._key is None:
            loaded = serialization.load_pem_private_key(
                self.pair.key.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True
            )
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise ValueError(f"{self.pair.key} does not hold an RSA key; delete certs/ to start over")
            self._key = loaded
        return self._key


def _name(**fields: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(SUBJECT_FIELDS[k], v) for k, v in fields.items()])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class Pki:
    """Makes (or reuses) the lab's certificates under ``directory``."""

    def __init__(self, directory: Path = CERT_DIR) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._manifest_path = self.dir / "manifest.json"
        try:
            self._manifest: dict[str, Any] = json.loads(self._manifest_path.read_text())
        except (OSError, ValueError):
            self._manifest = {}
        if self._manifest.get("version") != VERSION:
            self._manifest = {"version": VERSION, "items": {}}
        self._made: dict[str, _Made] = {}
        self._dirty = False

        self.root = self._ca(
            "lab-root-ca", _name(C="US", O="Lab Trust Services", CN="Lab Root CA (public CA stand-in)")
        )
        self.ev = self._ca(
            "ev-intermediate",
            _name(C="US", O="DigiCert Inc (lab stand-in)", CN="DigiCert EV RSA CA G2 (lab)"),
            issuer=self.root,
            path_length=0,
        )
        self.client_ca = self._ca("client-ca", _name(C="GB", O="Lab Client CA", CN="Lab Client CA"))
        self.rogue_ca = self._ca("rogue-ca", _name(C="XX", O="Rogue Inc", CN="Rogue Client CA"))
        self.client = self._client("client", self.client_ca, eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
        self.rogue_client = self._client("rogue-client", self.rogue_ca, eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
        self.expired_client = self._client(
            "expired-client", self.client_ca, eku=[ExtendedKeyUsageOID.CLIENT_AUTH], expired=True
        )
        self.noeku_client = self._client("noeku-client", self.client_ca, eku=[ExtendedKeyUsageOID.SERVER_AUTH])
        self.save()

    # -- public API -------------------------------------------------------------------------------

    def server(self, host: Host) -> Pair:
        """The certificate a TLS host presents, made from its ``cert`` settings."""
        cert = getattr(host.settings, "cert", None)
        if not isinstance(cert, CertSpec):
            raise TypeError(f"a {host.kind} host presents no certificate")
        spec = {
            "names": list(cert.names),
            "ips": list(cert.ips),
            "subject": dict(cert.subject),
            "issuer": cert.issuer,
            "expired": cert.expired,
        }
        issuer = {"ev": self.ev, "root": self.root, "rogue": self.rogue_ca}[cert.issuer]
        subject = _name(**dict(cert.subject))
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in cert.names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in cert.ips]
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
        made = self._leaf(
            f"hosts/{host.name}-{digest}",
            subject,
            issuer,
            sans=sans,
            eku=[ExtendedKeyUsageOID.SERVER_AUTH],
            expired=cert.expired,
            spec=spec,
        )
        self.save()
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
        def build(key: rsa.RSAPrivateKey, now: dt.datetime) -> x509.CertificateBuilder:
            builder = self._base(subject, key, issuer, now, lifetime=LIFETIME * 4)
            return builder.add_extension(
                x509.BasicConstraints(ca=True, path_length=path_length), critical=True
            ).add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)

        return self._make(name, {"subject": subject.rfc4514_string()}, issuer, build, chain=False)

    def _client(self, name: str, issuer: _Made, eku: list[x509.ObjectIdentifier], expired: bool = False) -> _Made:
        subject = _name(C="GB", O="Lab Learners", CN=f"lab {name}")
        # A SAN, as real client certificates carry (and cryptography's client verifier requires); the
        # SPIFFE URI feeds the load balancer's {client_cert_spiffe_id} header variable.
        sans: list[x509.GeneralName] = [
            x509.DNSName(f"{name}.lab.example"),
            x509.UniformResourceIdentifier(f"spiffe://lab.example/learner/{name}"),
        ]
        return self._leaf(name, subject, issuer, sans=sans, eku=eku, expired=expired, spec={}, chain=False)

    def _leaf(
        self,
        name: str,
        subject: x509.Name,
        issuer: _Made,
        *,
        sans: list[x509.GeneralName],
        eku: list[x509.ObjectIdentifier],
        expired: bool,
        spec: dict[str, Any],
        chain: bool = True,
    ) -> _Made:
        def build(key: rsa.RSAPrivateKey, now: dt.datetime) -> x509.CertificateBuilder:
            start = now - dt.timedelta(days=60) if expired else now
            builder = self._base(subject, key, issuer, start, lifetime=dt.timedelta(days=30) if expired else LIFETIME)
            builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            builder = builder.add_extension(
                x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
            )
            builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
            if sans:
                builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
            return builder

        full_spec = {**spec, "subject": subject.rfc4514_string(), "eku": [o.dotted_string for o in eku]}
        return self._make(name, full_spec, issuer, build, chain=chain, expired=expired)

    @staticmethod
    def _base(
        subject: x509.Name,
        key: rsa.RSAPrivateKey,
        issuer: _Made | None,
        start: dt.datetime,
        lifetime: dt.timedelta,
    ) -> x509.CertificateBuilder:
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.cert.subject if issuer else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start - dt.timedelta(hours=1))
            .not_valid_after(start + lifetime)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if issuer:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
            )
        return builder

    def _make(
        self,
        name: str,
        spec: dict[str, Any],
        issuer: _Made | None,
        build: Any,
        *,
        chain: bool,
        expired: bool = False,
    ) -> _Made:
        cert_path = self.dir / f"{name}.crt"
        key_path = self.dir / f"{name}.key"
        fingerprint = hashlib.sha256(
            json.dumps(
                {"spec": spec, "issuer": issuer and issuer.cert.fingerprint(hashes.SHA256()).hex()},
                sort_keys=True,
            ).encode()
        ).hexdigest()
        made = self._reuse(name, fingerprint, cert_path, key_path, expired)
        if made is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            signer = issuer.key if issuer else key
            cert = build(key, _now()).sign(signer, hashes.SHA256())
            cert_path.parent.mkdir(parents=True, exist_ok=True)
            pem = cert.public_bytes(serialization.Encoding.PEM)
            if chain and issuer and issuer.cert.issuer != issuer.cert.subject:
                pem += issuer.cert.public_bytes(serialization.Encoding.PEM)
            _write(
                key_path,
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ),
                mode=0o600,
            )
            _write(cert_path, pem, mode=0o644)
            self._manifest["items"][name] = {"fingerprint": fingerprint}
            self._dirty = True
            made = _Made(cert, Pair(cert_path, key_path), key)
        self._made[name] = made
        return made

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
