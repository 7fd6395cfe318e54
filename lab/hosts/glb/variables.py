"""The values of the custom-header variables for one connection: formats and size limits as Google documents
them. Pure.

From https://cloud.google.com/load-balancing/docs/https/custom-headers (HDR) unless marked, in our words:

- ``client_cert_present`` / ``client_cert_chain_verified``: ``true`` or ``false``;
- ``client_cert_error``: the verdict's ``client_cert_*`` name, then any ``..._exceeded_size_limit`` errors
  added (HDR says they are added; the separator is not documented: the lab uses a comma);
- ``client_cert_sha256_fingerprint``: Base64 of the leaf's SHA-256; Google's published sample values carry no
  ``=`` padding (apigee-samples mtls-northbound, an observation), so neither does the lab;
- ``client_cert_serial_number``: the serial as lower-case hex bytes joined by ``:``, with the leading ``00``
  of a DER integer (the sample's format); over 50 bytes -> empty and ``client_cert_serial_number_exceeded_size_limit``;
- ``client_cert_spiffe_id``: the SPIFFE ID from a URI SAN, empty if not a valid one; over 2048 bytes -> empty
  and ``client_cert_spiffe_id_exceeded_size_limit``;
- ``client_cert_uri_sans`` / ``client_cert_dnsname_sans``: each SAN Base64-encoded, joined by commas, the
  SPIFFE ID left out of the URI list; over 512 bytes -> empty and ``..._exceeded_size_limit``;
- ``client_cert_valid_not_before`` / ``_after``: RFC 3339 like Google's example ``2022-07-01T18:05:09+00:00``;
- ``client_cert_issuer_dn`` / ``client_cert_subject_dn``: Base64 of the DER name; over 512 bytes -> empty and
  ``..._exceeded_size_limit`` (the lab measures the DER: HDR does not say which form is counted);
- ``client_cert_leaf``: RFC 9440 form ``:BASE64(DER):``, only when validation passed; a leaf over 16 KB ->
  empty and ``client_cert_validated_leaf_exceeded_size_limit``;
- ``client_cert_chain``: the certificates the client sent after the leaf, each in RFC 9440 form, separated
  by ``, `` (RFC 8941 list form; HDR says comma-delimited), only when validation passed; leaf and chain over
  16 KB together -> empty and ``client_cert_validated_chain_exceeded_size_limit``;
- a variable whose value cannot be known is empty.

When validation fails (``ALLOW_INVALID_OR_MISSING_CLIENT_CERT``) Google's sample filled only present,
chain_verified, error and the fingerprint; the lab does the same (an observation, not documented).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from lab.hosts.glb.mtls import Verdict
from lab.model.glbheaders import VARIABLES

SERIAL_LIMIT = 50
SPIFFE_LIMIT = 2048
SAN_LIMIT = 512
DN_LIMIT = 512
CERT_LIMIT = 16 * 1024
_SPIFFE = re.compile(r"spiffe://[a-z0-9._-]+(/[A-Za-z0-9._-]+)*")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionFacts:
    """What the load balancer knows about the connection, for the non-certificate variables."""

    client_ip: str = ""
    client_port: str = ""
    server_ip: str = ""
    server_port: str = ""
    protocol: str = ""  # HTTP/1.1, HTTP/2
    sni: str = ""
    tls_version: str = ""  # TLSv1.3
    cipher_suite: str = ""  # four hex digits, e.g. 1302


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def serial_text(serial: int) -> str:
    """The serial's DER integer bytes (a leading 00 when the top bit is set), as ``ad:3e:...``."""
    raw = serial.to_bytes(serial.bit_length() // 8 + 1, "big")
    return ":".join(f"{b:02x}" for b in raw)


def rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def rfc9440(cert: x509.Certificate) -> str:
    return ":" + _b64(cert.public_bytes(serialization.Encoding.DER)) + ":"


def _sans(leaf: x509.Certificate) -> tuple[list[str], list[str]]:
    try:
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return sans.get_values_for_type(x509.UniformResourceIdentifier), sans.get_values_for_type(x509.DNSName)


def spiffe_id(uris: list[str]) -> str:
    """The one SPIFFE ID among the URI SANs ("" if none, several, or not well formed)."""
    candidates = [u for u in uris if u.startswith("spiffe://")]
    return candidates[0] if len(candidates) == 1 and _SPIFFE.fullmatch(candidates[0]) else ""


def _limited(value: str, size: int, limit: int, name: str, errors: list[str]) -> str:
    if size > limit:
        errors.append(f"client_cert_{name}_exceeded_size_limit")
        return ""
    return value


def certificate_values(verdict: Verdict) -> dict[str, str]:
    """The ``client_cert_*`` variables for this verdict, size limits applied."""
    values = dict.fromkeys((v for v in VARIABLES if v.startswith("client_cert_")), "")
    values["client_cert_present"] = "true" if verdict.present else "false"
    values["client_cert_chain_verified"] = "true" if verdict.chain_verified else "false"
    leaf = verdict.leaf
    if leaf is not None:
        values["client_cert_sha256_fingerprint"] = _b64(leaf.fingerprint(hashes.SHA256())).rstrip("=")
    errors = [verdict.error] if verdict.error else []
    if leaf is not None and verdict.chain_verified:
        values.update(_verified_values(leaf, verdict.chain, errors))
    values["client_cert_error"] = ",".join(errors)
    return values


def _verified_values(leaf: x509.Certificate, chain: tuple[x509.Certificate, ...], errors: list[str]) -> dict[str, str]:
    uris, dns = _sans(leaf)
    spiffe = spiffe_id(uris)
    uri_text = ",".join(_b64(u.encode()) for u in uris if u != spiffe)
    dns_text = ",".join(_b64(d.encode()) for d in dns)
    serial = serial_text(leaf.serial_number)
    issuer, subject = leaf.issuer.public_bytes(), leaf.subject.public_bytes()
    leaf_der = leaf.public_bytes(serialization.Encoding.DER)
    chain_size = len(leaf_der) + sum(len(c.public_bytes(serialization.Encoding.DER)) for c in chain)
    return {
        "client_cert_serial_number": _limited(serial, len(serial.split(":")), SERIAL_LIMIT, "serial_number", errors),
        "client_cert_spiffe_id": _limited(spiffe, len(spiffe.encode()), SPIFFE_LIMIT, "spiffe_id", errors),
        "client_cert_uri_sans": _limited(uri_text, len(uri_text), SAN_LIMIT, "uri_sans", errors),
        "client_cert_dnsname_sans": _limited(dns_text, len(dns_text), SAN_LIMIT, "dnsname_sans", errors),
        "client_cert_valid_not_before": rfc3339(leaf.not_valid_before_utc),
        "client_cert_valid_not_after": rfc3339(leaf.not_valid_after_utc),
        "client_cert_issuer_dn": _limited(_b64(issuer), len(issuer), DN_LIMIT, "issuer_dn", errors),
        "client_cert_subject_dn": _limited(_b64(subject), len(subject), DN_LIMIT, "subject_dn", errors),
        "client_cert_leaf": _limited(rfc9440(leaf), len(leaf_der), CERT_LIMIT, "validated_leaf", errors),
        "client_cert_chain": _limited(
            ", ".join(rfc9440(c) for c in chain), chain_size, CERT_LIMIT, "validated_chain", errors
        ),
    }


def connection_values(facts: ConnectionFacts) -> dict[str, str]:
    """The connection variables (HDR): client and server address, protocol, SNI, TLS version and cipher."""
    return {
        "client_ip_address": facts.client_ip,
        "client_port": facts.client_port,
        "client_encrypted": "true",
        "client_protocol": facts.protocol,
        "server_ip_address": facts.server_ip,
        "server_port": facts.server_port,
        "tls_sni_hostname": facts.sni.lower().rstrip("."),
        "tls_version": facts.tls_version,
        "tls_cipher_suite": facts.cipher_suite.upper(),
    }


def all_values(verdict: Verdict | None, facts: ConnectionFacts) -> dict[str, str]:
    """Every variable's value for a request; without an mTLS policy the certificate ones are empty."""
    certificate = certificate_values(verdict) if verdict is not None else {}
    return {**dict.fromkeys(VARIABLES, ""), **certificate, **connection_values(facts)}
