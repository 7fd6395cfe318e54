"""Every custom-header variable (no sockets): its value, its format, its size limit and the error the limit
adds, one row per variable, each citing where the rule comes from."""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID, ObjectIdentifier

from lab.hosts.glb import mtls, variables
from lab.model.glbheaders import MTLS_VARIABLES, VARIABLES, parse_template
from tests import certs

HDR = "https://cloud.google.com/load-balancing/docs/https/custom-headers"
SAMPLE = "https://github.com/GoogleCloudPlatform/apigee-samples/blob/main/mtls-northbound/README.md (observed values)"
RFC9440 = "https://www.rfc-editor.org/rfc/rfc9440 (Client-Cert, Client-Cert-Chain)"

CA = certs.issue(None, subject=certs.name("variables test CA"), ca=True)
TRUST = mtls.TrustConfig(anchors=(CA[0],))
MIDDLE = certs.issue(CA, subject=certs.name("variables test sub CA"), ca=True)
SPIFFE = "spiffe://lab.example/ns/prod/sa/api"
LEAF, _ = certs.issue(
    MIDDLE,
    serial=0xAD3E0EBCC3D4F42D,  # top bit set: the DER integer starts with 00
    sans=[
        x509.DNSName("api.lab.example"),
        x509.DNSName("www.lab.example"),
        x509.UniformResourceIdentifier(SPIFFE),
        x509.UniformResourceIdentifier("https://lab.example/client"),
    ],
)


def values_for(leaf: x509.Certificate, *rest: x509.Certificate, trust: mtls.TrustConfig = TRUST) -> dict[str, str]:
    return variables.certificate_values(mtls.evaluate([leaf, *rest], trust))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


VALID = values_for(LEAF, MIDDLE[0])
DER = LEAF.public_bytes(serialization.Encoding.DER)

# (variable, expected value for LEAF, source)
FORMATS: list[tuple[str, Any, str]] = [
    ("client_cert_present", "true", HDR),
    ("client_cert_chain_verified", "true", HDR),
    ("client_cert_error", "", HDR),
    (
        "client_cert_sha256_fingerprint",
        b64(LEAF.fingerprint(hashes.SHA256())).rstrip("="),
        HDR + " ; no padding: " + SAMPLE,
    ),
    ("client_cert_serial_number", "00:ad:3e:0e:bc:c3:d4:f4:2d", SAMPLE),
    ("client_cert_spiffe_id", SPIFFE, HDR),
    ("client_cert_uri_sans", b64(b"https://lab.example/client"), HDR + " (the SPIFFE ID is left out)"),
    ("client_cert_dnsname_sans", f"{b64(b'api.lab.example')},{b64(b'www.lab.example')}", HDR),
    ("client_cert_valid_not_before", LEAF.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%S+00:00"), HDR),
    ("client_cert_valid_not_after", LEAF.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%S+00:00"), HDR),
    ("client_cert_issuer_dn", b64(LEAF.issuer.public_bytes()), HDR),
    ("client_cert_subject_dn", b64(LEAF.subject.public_bytes()), HDR),
    ("client_cert_leaf", f":{b64(DER)}:", HDR + " ; " + RFC9440),
    ("client_cert_chain", f":{b64(MIDDLE[0].public_bytes(serialization.Encoding.DER))}:", HDR + " ; " + RFC9440),
]


@pytest.mark.parametrize(("variable", "expected", "source"), FORMATS, ids=[f[0] for f in FORMATS])
def test_each_variable_value_and_format(variable: str, expected: str, source: str) -> None:
    assert VALID[variable] == expected, source


def test_every_mtls_variable_has_a_row() -> None:
    assert [row[0] for row in FORMATS] == list(MTLS_VARIABLES)


def test_times_look_like_googles_example() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", VALID["client_cert_valid_not_after"])
    assert dt.datetime.fromisoformat(VALID["client_cert_valid_not_after"]) == LEAF.not_valid_after_utc


def _long_subject() -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "u" * 60) for _ in range(10)])


BIG = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x04\x82\x42\x68" + b"x" * 17000)

# (what is too big, the certificate, variable that empties, error added, source)
LIMITS = [
    (
        "SPIFFE ID over 2048 bytes",
        dict(sans=[x509.UniformResourceIdentifier("spiffe://lab.example/" + "a" * 2100)]),
        "client_cert_spiffe_id",
        "client_cert_spiffe_id_exceeded_size_limit",
        HDR,
    ),
    (
        "URI SANs over 512 bytes",
        dict(sans=[x509.UniformResourceIdentifier(f"https://lab.example/{i}/{'p' * 40}") for i in range(12)]),
        "client_cert_uri_sans",
        "client_cert_uri_sans_exceeded_size_limit",
        HDR,
    ),
    (
        "DNS SANs over 512 bytes",
        dict(sans=[x509.DNSName(f"host{i}-{'d' * 30}.lab.example") for i in range(12)]),
        "client_cert_dnsname_sans",
        "client_cert_dnsname_sans_exceeded_size_limit",
        HDR,
    ),
    (
        "subject DN over 512 bytes",
        dict(subject=_long_subject()),
        "client_cert_subject_dn",
        "client_cert_subject_dn_exceeded_size_limit",
        HDR,
    ),
    ("leaf over 16 KB", dict(extra=[BIG]), "client_cert_leaf", "client_cert_validated_leaf_exceeded_size_limit", HDR),
    (
        "leaf and chain over 16 KB",
        dict(extra=[BIG]),
        "client_cert_chain",
        "client_cert_validated_chain_exceeded_size_limit",
        HDR,
    ),
]


@pytest.mark.parametrize(("what", "spec", "variable", "error", "source"), LIMITS)
def test_each_size_limit_empties_the_variable_and_adds_its_error(
    what: str, spec: dict[str, Any], variable: str, error: str, source: str
) -> None:
    leaf, _ = certs.issue(MIDDLE, **spec)
    values = values_for(leaf, MIDDLE[0])
    assert values["client_cert_chain_verified"] == "true", what
    assert values[variable] == "", what
    assert error in values["client_cert_error"].split(","), source


def test_issuer_dn_over_512_bytes() -> None:
    big_ca = certs.issue(None, subject=_long_subject(), ca=True)
    leaf, _ = certs.issue(big_ca)
    values = values_for(leaf, trust=mtls.TrustConfig(anchors=(big_ca[0],)))
    assert values["client_cert_issuer_dn"] == ""
    assert values["client_cert_error"] == "client_cert_issuer_dn_exceeded_size_limit"


def test_serial_number_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Google's limit is 50 bytes; X.509 serials stop at 20, so the rule is shown with a lower limit."""
    assert variables.SERIAL_LIMIT == 50
    monkeypatch.setattr(variables, "SERIAL_LIMIT", 4)
    values = values_for(LEAF, MIDDLE[0])
    assert values["client_cert_serial_number"] == ""
    assert values["client_cert_error"] == "client_cert_serial_number_exceeded_size_limit"


def test_several_size_errors_are_joined_with_commas() -> None:
    leaf, _ = certs.issue(MIDDLE, subject=_long_subject(), extra=[BIG])
    errors = values_for(leaf, MIDDLE[0])["client_cert_error"].split(",")
    assert errors == [
        "client_cert_subject_dn_exceeded_size_limit",
        "client_cert_validated_leaf_exceeded_size_limit",
        "client_cert_validated_chain_exceeded_size_limit",
    ]


@pytest.mark.parametrize(
    ("uris", "spiffe"),
    [
        ([SPIFFE], SPIFFE),
        ([SPIFFE, "spiffe://other.example/x"], ""),  # a SPIFFE ID must be the only one
        (["spiffe://Upper.Example/x"], ""),  # trust domains are lower case
        (["spiffe://lab.example/x?query"], ""),
    ],
)
def test_spiffe_id_is_empty_when_not_valid(uris: list[str], spiffe: str) -> None:
    assert variables.spiffe_id(uris) == spiffe


def test_a_failed_validation_fills_only_what_googles_sample_filled() -> None:
    """ALLOW_INVALID_OR_MISSING_CLIENT_CERT with a certificate that fails: present, verified, error and the
    fingerprint; the rest empty (SAMPLE, for an EKU failure)."""
    rogue = certs.issue(None, subject=certs.name("rogue test CA"), ca=True)
    leaf, _ = certs.issue(rogue)
    values = values_for(leaf)
    filled = {k for k, v in values.items() if v}
    assert filled == {
        "client_cert_present",
        "client_cert_chain_verified",
        "client_cert_error",
        "client_cert_sha256_fingerprint",
    }
    assert (values["client_cert_chain_verified"], values["client_cert_error"]) == (
        "false",
        "client_cert_validation_failed",
    )


def test_no_certificate() -> None:
    values = variables.certificate_values(mtls.evaluate([], TRUST))
    assert values["client_cert_present"] == "false"
    assert values["client_cert_error"] == "client_cert_not_provided"
    assert values["client_cert_sha256_fingerprint"] == ""


def test_connection_variables() -> None:
    facts = variables.ConnectionFacts(
        client_ip="10.0.0.1",
        client_port="40000",
        server_ip="88.88.88.88",
        server_port="443",
        protocol="HTTP/2",
        sni="MyDomain.",
        tls_version="TLSv1.3",
        cipher_suite="1302",
    )
    values = variables.all_values(None, facts)
    assert set(values) == set(VARIABLES)
    assert values["tls_sni_hostname"] == "mydomain"  # HDR: lower case, no trailing dot
    assert (values["client_encrypted"], values["tls_cipher_suite"], values["client_cert_present"]) == (
        "true",
        "1302",
        "",
    )


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        ("{client_cert_present}", "true"),
        ("  {client_cert_present}  ", "true"),  # HDR: surrounding whitespace is not passed on
        ("{{client_cert_present}}", "{client_cert_present}"),  # HDR: {{ and }} are literal braces
        ("{{{client_cert_present}}}", "{true}"),
        ("v={client_cert_chain_verified};e={client_cert_error}", "v=true;e="),
        ("{client_cert_chain}", VALID["client_cert_chain"]),
    ],
)
def test_templates_render_like_google(template: str, rendered: str) -> None:
    from lab.model.glbheaders import CustomHeader

    header = CustomHeader(name="x", template=template, parts=parse_template(template))
    assert header.render(VALID) == rendered
