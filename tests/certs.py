"""Throwaway certificates for tests that need one property the lab's PKI does not make (a SHA-1 signature,
a 1024-bit key, a huge SAN list): built with ``cryptography`` under a CA given by the test."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEYS: dict[int, rsa.RSAPrivateKey] = {}


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """One key per size for the whole test run (key generation is the slow part)."""
    if bits not in KEYS:
        KEYS[bits] = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return KEYS[bits]


def name(cn: str, *extra: tuple[Any, str]) -> x509.Name:
    return x509.Name(
        [*(x509.NameAttribute(oid, value) for oid, value in extra), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


def issue(
    issuer: tuple[x509.Certificate, Any] | None,
    *,
    subject: x509.Name | None = None,
    key: Any = None,
    ca: bool = False,
    eku: list[x509.ObjectIdentifier] | None = None,
    sans: list[x509.GeneralName] | None = None,
    serial: int = 0x1234,
    digest: hashes.HashAlgorithm | None = None,
    extra: list[x509.ExtensionType] | None = None,
) -> tuple[x509.Certificate, Any]:
    """A certificate and its key; ``issuer`` None makes it self-signed."""
    key = key or rsa_key()
    subject = subject or name("test leaf")
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    signer = issuer[1] if issuer else key
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )
    if eku != [] and (eku is not None or not ca):  # [] leaves the extension out
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(eku if eku is not None else [ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    if sans or not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(sans or [x509.DNSName("test.lab.example")]), critical=False
        )
    for extension in extra or []:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(signer, digest or hashes.SHA256()), key


def signed_by_openssl(ca: x509.Certificate, ca_key: Any, digest: str, directory: Path) -> x509.Certificate:
    """A client leaf under ``ca`` signed with ``digest`` by the openssl command line (for SHA-1, which
    cryptography refuses to sign with)."""
    key = rsa_key()
    csr = x509.CertificateSigningRequestBuilder().subject_name(name("weak hash leaf")).sign(key, hashes.SHA256())
    (directory / "leaf.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    (directory / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "ca.key").write_bytes(
        ca_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (directory / "ext.cnf").write_text("extendedKeyUsage = clientAuth\nsubjectAltName = DNS:weak.lab.example\n")
    subprocess.run(
        ["openssl", "x509", "-req", "-in", "leaf.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "7",
         "-days", "2", f"-{digest}", "-extfile", "ext.cnf", "-out", "leaf.crt"],
        cwd=directory, check=True, capture_output=True,
    )  # fmt: skip
    return x509.load_pem_x509_certificate((directory / "leaf.crt").read_bytes())
