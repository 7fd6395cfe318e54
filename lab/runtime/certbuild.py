"""How the lab's certificates are built: key types, extensions, and the client certificates each lesson needs.

:mod:`lab.runtime.pki` decides *when* to make a certificate (and caches it in ``certs/``); this module says
*what* it is. Everything is ``cryptography``: trustme cannot make keys other than RSA/P-256 by choice, a leaf
with CA:TRUE, or the over-long and over-constrained chains below.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lab.model.glbsettings import CLIENT_CERTS
from lab.model.hostsettings import SUBJECT_KEYS

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

Key = CertificateIssuerPrivateKeyTypes
KeySpec = tuple[str, int | str]  # ("rsa", bits), ("ec", curve name), ("ed25519", 0)
CURVES: dict[str, type[ec.EllipticCurve]] = {
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
}
CHAIN_LENGTH = 11  # intermediates in the chains that break Google's limits (path of ten, more than ten alike)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSpec:
    """What a client certificate in ``certs/`` is made of: each differs from ``client`` in one lesson."""

    issuer: str = "client-ca"
    eku: tuple[str, ...] = ("clientAuth",)
    expired: bool = False
    starts_in_days: int = 0  # > 0: not valid yet
    key: KeySpec = ("rsa", 2048)
    ca: bool = False
    chain: str = ""  # "deep", "same-key" or "constrained": intermediates made for this certificate


CLIENTS = {
    "client": ClientSpec(),
    "rogue-client": ClientSpec(issuer="rogue-ca"),
    "expired-client": ClientSpec(expired=True),
    "noeku-client": ClientSpec(eku=("serverAuth",)),
    "rsa4608-client": ClientSpec(key=("rsa", 4608)),
    "p521-client": ClientSpec(key=("ec", "secp521r1")),
    "ed25519-client": ClientSpec(key=("ed25519", 0)),
    "ca-leaf-client": ClientSpec(ca=True),
    "deep-chain-client": ClientSpec(chain="deep"),
    "pki-too-large-client": ClientSpec(chain="same-key"),
    "name-constraints-client": ClientSpec(chain="constrained"),
    "future-client": ClientSpec(starts_in_days=30),
}
assert tuple(CLIENTS) == CLIENT_CERTS
EKUS = {"clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH, "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH}


def new_key(spec: KeySpec) -> Key:
    kind, size = spec
    if kind == "ec":
        return ec.generate_private_key(CURVES[str(size)]())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=int(size))


def sign(builder: x509.CertificateBuilder, key: Key) -> x509.Certificate:
    return builder.sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256())


def x509_name(**fields: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(SUBJECT_FIELDS[k], v) for k, v in fields.items()])


def base(
    subject: x509.Name, key: Key, issuer: tuple[x509.Name, Key] | None, start: dt.datetime, lifetime: dt.timedelta
) -> x509.CertificateBuilder:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0] if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - dt.timedelta(hours=1))
        .not_valid_after(start + lifetime)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()), critical=False
        )
    return builder


def leaf_extensions(
    builder: x509.CertificateBuilder,
    sans: list[x509.GeneralName],
    eku: list[x509.ObjectIdentifier],
    *,
    ca: bool = False,
) -> x509.CertificateBuilder:
    builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    builder = builder.add_extension(x509.KeyUsage(True, False, True, False, False, ca, ca, False, False), critical=True)
    builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder


def intermediates(kind: str, top: tuple[x509.Name, Key], now: dt.datetime) -> list[tuple[x509.Certificate, Key]]:
    """The intermediates a chained client certificate needs, from the one under ``top`` down; the last one
    signs the leaf.

    ``deep``: eleven in a row, so the path (with leaf and root) has thirteen certificates, more than Google's
    ten; ``same-key``: eleven with one subject and one key (Google: more than ten alike is too large a PKI);
    ``constrained``: one whose name constraints list eleven subtrees (Google allows ten).
    """
    made: list[tuple[x509.Certificate, Key]] = []
    shared = new_key(("rsa", 2048))
    for i in range(CHAIN_LENGTH if kind != "constrained" else 1):
        parent_name, parent_key = (made[-1][0].subject, made[-1][1]) if made and kind == "deep" else top
        key = shared if kind == "same-key" else new_key(("rsa", 2048))
        label = "Lab Client Sub CA" if kind == "same-key" else f"Lab Client {kind.title()} CA {i + 1}"
        builder = base(x509_name(C="GB", O="Lab Client CA", CN=label), key, (parent_name, parent_key), now, LIFETIME)
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        if kind == "constrained":
            subtrees = [x509.DNSName("lab.example")] + [x509.DNSName(f"team{n}.example") for n in range(1, 11)]
            builder = builder.add_extension(x509.NameConstraints(subtrees, None), critical=True)
        made.append((sign(builder, parent_key), key))
    return made
