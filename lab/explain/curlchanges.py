"""Where two curl builds word an outcome differently: the releases that changed an exit code or a line a
scenario might match, and what the TLS library changes. Pure data and one function.

``lab import`` uses it to say, in the draft, where the lab's curl would not print what the customer's did
(a scenario's expectation that quotes the customer's wording would fail for a reason that is not routing).
Sources: curl's git history at the release tags (lib/vtls/openssl.c, lib/socks.c, lib/connect.c).
"""

from __future__ import annotations

from lab.protocols.curlversion import CurlVersion, TranscriptCurl, version_key

Version = tuple[int, ...]

# (first release with the new behaviour, what changed). Keep to what a scenario's expectation could match.
CHANGES: tuple[tuple[Version, str], ...] = (
    ((7, 62, 0), "a certificate name mismatch is exit 60 (51 before 7.62.0)"),
    ((7, 73, 0), "SOCKS failures are exit 97 (7 before 7.73.0)"),
    ((8, 2, 0), "-v's 'Connected to ...' line lost its '(#0)' (8.2.0)"),
    (
        (8, 6, 0),
        "long options must be spelled out in full, in lower case: '--insec' is exit 2 'option --insec: is unknown' "
        "(before 8.6.0 curl took any unambiguous prefix, in any case)",
    ),
    ((8, 7, 0), "a name mismatch on an IP URL says 'target ipv4 address' ('target host name' before 8.7.0)"),
    ((8, 9, 0), "SOCKS5 failures say 'cannot complete' (\"Can't complete\" before 8.9.0)"),
    ((8, 9, 0), "a name mismatch on a host name says 'target hostname' ('target host name' before 8.9.0)"),
    (
        (8, 11, 0),
        "TLS handshake errors say 'TLS connect error: error:...' (before 8.11.0 they name the library, "
        "'OpenSSL/3.0.19: error:...', and a peer that closes mid-handshake is 'SSL_ERROR_SYSCALL')",
    ),
    (
        (8, 14, 0),
        "a SOCKS5 target name that does not resolve is '(97) Could not resolve proxy:' "
        "('Could not resolve host:' before 8.14.0)",
    ),
)


def _library(tls: str | None) -> str | None:
    return tls.split("/")[0] if tls else None


def differences(customer: TranscriptCurl, ours: CurlVersion) -> list[str]:
    """What the lab's curl (``ours``) certainly prints differently from the customer's, one sentence each.

    A change counts only when the transcript proves the customer's curl is on the other side of it (its
    User-Agent, or wording that dates it: :data:`lab.protocols.curlversion.MARKERS`).
    """
    notes: list[str] = []
    mine = version_key(ours.version)
    for since, what in CHANGES:
        release = ".".join(map(str, since))
        if (mine >= since and customer.is_before(release)) or (mine < since and customer.is_since(release)):
            notes.append(what)
    theirs, mine_tls = _library(customer.tls), _library(ours.tls)
    if theirs and mine_tls and theirs != mine_tls:
        notes.append(
            f"TLS errors quote the TLS library: the customer's {theirs}, the lab's {mine_tls} (LibreSSL reports "
            "a required client certificate as 'error:1404C45C:...reason(1116)', OpenSSL as 'tlsv13 alert "
            "certificate required'), so keep expected error phrases to the words both print"
        )
        if "LibreSSL" in (theirs, mine_tls):
            notes.append("-v handshake lines read '(304)' with LibreSSL where OpenSSL prints 'TLSv1.3'")
    return notes
