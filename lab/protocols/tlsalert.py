"""TLS alert names by number (RFC 8446 section 6 and RFC 5246 section 7.2), as OpenSSL spells them.

curl -v prints an alert as ``TLS alert, <text> (<level * 256 + description>)``, and its text is
``unknown`` for alerts its version has no name for (curl 7.88 says ``unknown (628)`` for TLS 1.3's
certificate_required). The number is the truth; :func:`name` reads it.
"""

from __future__ import annotations

ALERTS = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    22: "record_overflow",
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
}


def name(code: int) -> str:
    """``certificate_required`` for 116 or 628 (curl adds the level: fatal = 2 * 256)."""
    return ALERTS.get(code & 0xFF, f"alert {code & 0xFF}")


def from_text(text: str) -> str | None:
    """The alert an OpenSSL or curl message names ("tlsv13 alert certificate required" -> certificate_required)."""
    lowered = text.lower().replace("_", " ")
    for alert in sorted(ALERTS.values(), key=len, reverse=True):
        if f"alert {alert.replace('_', ' ')}" in lowered:
            return alert
    return None
