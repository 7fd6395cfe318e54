"""The lab PKI: the certificates have the properties the lessons depend on, and caching is safe."""

from __future__ import annotations

import datetime as dt
import json
import stat
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from lab.model import scenario
from lab.runtime import pki as pki_module
from lab.runtime.pki import Pki


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("certs"))


def eku(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_fixed_paths_exist_and_keys_are_private(made: Pki) -> None:
    for name in ("lab-root-ca", "client", "rogue-client", "expired-client", "noeku-client", "client-ca"):
        assert (made.dir / f"{name}.crt").exists()
        mode = stat.S_IMODE((made.dir / f"{name}.key").stat().st_mode)
        assert mode == 0o600, f"{name}.key is {oct(mode)}"


def test_glb_certificate_is_the_seeds_ev_certificate(made: Pki) -> None:
    glb = scenario.load("seed").hosts["glb"]
    chain = x509.load_pem_x509_certificates(made.server(glb).cert.read_bytes())
    leaf = chain[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["mydomain"]
    assert sans.get_values_for_type(x509.IPAddress) == []  # why https://88.88.88.88 fails
    subject = {a.oid: a.value for a in leaf.subject}
    assert subject[NameOID.JURISDICTION_COUNTRY_NAME] == "GB"
    assert subject[NameOID.BUSINESS_CATEGORY] == "Private Organization"
    assert subject[NameOID.SERIAL_NUMBER] == "09231974"
    assert subject[NameOID.COMMON_NAME] == "mydomain"
    assert "DigiCert EV RSA CA G2" in leaf.issuer.rfc4514_string()
    assert chain[1].subject == leaf.issuer  # the intermediate is sent along
    assert eku(leaf) == [ExtendedKeyUsageOID.SERVER_AUTH]
    # the chain verifies against the client's trust store (the lab root) for the name mydomain
    verifier = PolicyBuilder().store(Store([made.root.cert])).build_server_verifier(x509.DNSName("mydomain"))
    verifier.verify(leaf, chain[1:])


def test_client_certificates_differ_exactly_where_the_lessons_need(made: Pki) -> None:
    now = dt.datetime.now(dt.UTC)
    client = made.client.cert
    assert eku(client) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert client.not_valid_before_utc < now < client.not_valid_after_utc
    assert made.rogue_client.cert.issuer == made.rogue_ca.cert.subject != made.client_ca.cert.subject
    assert made.expired_client.cert.not_valid_after_utc < now
    assert eku(made.noeku_client.cert) == [ExtendedKeyUsageOID.SERVER_AUTH]
    verifier = PolicyBuilder().store(Store([made.client_ca.cert])).build_client_verifier()
    verifier.verify(client, [])
    for bad in (made.rogue_client, made.expired_client, made.noeku_client):
        with pytest.raises(VerificationError):
            verifier.verify(bad.cert, [])


def test_certificates_are_reused_while_valid(made: Pki) -> None:
    glb = scenario.load("seed").hosts["glb"]
    first = made.server(glb).cert.read_bytes()
    again = Pki(made.dir)
    assert again.client.cert == made.client.cert
    assert again.root.cert == made.root.cert
    assert again.server(glb).cert.read_bytes() == first  # a warm start makes no new keys


_KEYS: dict[tuple[object, int], object] = {}  # (key spec, how many of that spec the build made before) -> key


@pytest.fixture
def reused_keys(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """For tests that build a whole PKI twice: each build gets the keys an earlier build made, in the same order
    (RSA 4096 and the like take seconds to make); every certificate is still made again. Call the returned
    function before each build."""
    real = pki_module.new_key
    counts: Counter[object] = Counter()

    def reused(spec: object) -> object:
        key = (spec, counts[spec])
        counts[spec] += 1
        if key not in _KEYS:
            _KEYS[key] = real(spec)  # type: ignore[arg-type]
        return _KEYS[key]

    monkeypatch.setattr(pki_module, "new_key", reused)
    return counts.clear


def test_certificates_are_made_again_before_they_expire(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reused_keys: Callable[[], None]
) -> None:
    reused_keys()
    first = Pki(tmp_path)
    real_now = pki_module._now
    monkeypatch.setattr(pki_module, "_now", lambda: real_now() + pki_module.LIFETIME - dt.timedelta(days=3))
    reused_keys()
    second = Pki(tmp_path)
    assert second.client.cert.serial_number != first.client.cert.serial_number
    assert second.root.cert == first.root.cert  # the root lives longer and is kept


def test_a_changed_host_spec_gets_its_own_certificate(made: Pki, tmp_path: Path) -> None:
    file = tmp_path / "ip.toml"
    file.write_text('title = "t"\ntopology = "seed"\n[hosts.glb]\ncert.ips = ["88.88.88.88"]\n')
    with_ip = made.server(scenario.load(file).hosts["glb"])
    plain = made.server(scenario.load("seed").hosts["glb"])
    assert with_ip.cert != plain.cert
    leaf = x509.load_pem_x509_certificates(with_ip.cert.read_bytes())[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["88.88.88.88"]


def test_a_damaged_manifest_means_a_fresh_start(tmp_path: Path, reused_keys: Callable[[], None]) -> None:
    reused_keys()
    first = Pki(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    reused_keys()
    second = Pki(tmp_path)
    assert second.client.cert != first.client.cert
    assert json.loads((tmp_path / "manifest.json").read_text())["version"] == pki_module.VERSION


def test_labs_started_at_once_on_a_fresh_machine_share_one_consistent_pki(tmp_path: Path) -> None:
    """A workshop's first visits start labs together on a machine with no certificates yet: one makes them (the
    others wait on its lock and reuse them), so every certificate on disk is signed by the CA on disk."""
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    makers = [spawn.Process(target=Pki, args=(tmp_path,)) for _ in range(3)]
    for maker in makers:
        maker.start()
    for maker in makers:
        maker.join(timeout=120)
    assert [m.exitcode for m in makers] == [0, 0, 0]

    def cert(name: str) -> x509.Certificate:
        return x509.load_pem_x509_certificates((tmp_path / f"{name}.crt").read_bytes())[0]

    cert("ev-intermediate").verify_directly_issued_by(cert("lab-root-ca"))
    for client in ("client", "expired-client", "noeku-client"):
        cert(client).verify_directly_issued_by(cert("client-ca"))
    cert("rogue-client").verify_directly_issued_by(cert("rogue-ca"))
    assert Pki(tmp_path).root.cert == cert("lab-root-ca")  # a later lab reuses them
