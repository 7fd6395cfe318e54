"""curl's exit codes by name: libcurl's ``CURLE_*`` numbers (``include/curl/curl.h``), with what each means here.

The curl tool exits with the ``CURLcode`` of the transfer that failed, so ``CurlExit.PEER_FAILED_VERIFICATION``
is exit 60 and ``curl: (60) ...``. Two numbers come from the tool rather than a transfer: 2 (curl refused its
command line, reported with libcurl's ``CURLE_FAILED_INIT``) and the lab's own 28 when it stops a curl that
outlived its time limit. 51 is listed because older transcripts show it: it was the name-mismatch code before
curl 7.62 merged it into 60.
"""

from __future__ import annotations

from enum import IntEnum


class CurlExit(IntEnum):
    """An exit code of the curl tool, named after libcurl's ``CURLE_`` constant (``CURLE_OK`` -> ``OK``)."""

    OK = 0
    UNSUPPORTED_PROTOCOL = 1
    FAILED_INIT = 2
    URL_MALFORMAT = 3
    COULDNT_RESOLVE_PROXY = 5
    COULDNT_RESOLVE_HOST = 6
    COULDNT_CONNECT = 7
    WEIRD_SERVER_REPLY = 8
    HTTP2 = 16
    PARTIAL_FILE = 18
    HTTP_RETURNED_ERROR = 22
    WRITE_ERROR = 23
    READ_ERROR = 26
    OPERATION_TIMEDOUT = 28
    SSL_CONNECT_ERROR = 35
    TOO_MANY_REDIRECTS = 47
    OBSOLETE51 = 51
    GOT_NOTHING = 52
    SEND_ERROR = 55
    RECV_ERROR = 56
    SSL_CERTPROBLEM = 58
    SSL_CIPHER = 59
    PEER_FAILED_VERIFICATION = 60
    SSL_CACERT_BADFILE = 77
    HTTP2_STREAM = 92
    PROXY = 97
    SSL_CLIENTCERT = 98

    @property
    def constant(self) -> str:
        """libcurl's name: ``CURLE_PEER_FAILED_VERIFICATION``."""
        return f"CURLE_{self.name}"

    @property
    def meaning(self) -> str:
        """What the code says happened, in a few words."""
        return _MEANINGS[self]


_MEANINGS = {
    CurlExit.OK: "the transfer worked",
    CurlExit.UNSUPPORTED_PROTOCOL: "the URL's scheme is one this curl does not speak",
    CurlExit.FAILED_INIT: "curl refused its command line before any network traffic",
    CurlExit.URL_MALFORMAT: "the URL is not well formed",
    CurlExit.COULDNT_RESOLVE_PROXY: "curl could not resolve the proxy's host name",
    CurlExit.COULDNT_RESOLVE_HOST: "curl could not resolve the host name",
    CurlExit.COULDNT_CONNECT: "the TCP connection to the host or proxy failed",
    CurlExit.WEIRD_SERVER_REPLY: "the server's reply made no sense to curl",
    CurlExit.HTTP2: "something broke in the HTTP/2 framing",
    CurlExit.PARTIAL_FILE: "the body ended before the size the server announced",
    CurlExit.HTTP_RETURNED_ERROR: "the server answered with an HTTP error (400 or more) and -f/--fail was given",
    CurlExit.WRITE_ERROR: "curl could not write what it received",
    CurlExit.READ_ERROR: "curl could not read a local file",
    CurlExit.OPERATION_TIMEDOUT: "a time limit ran out (-m/--max-time, --connect-timeout)",
    CurlExit.SSL_CONNECT_ERROR: "the TLS handshake failed",
    CurlExit.TOO_MANY_REDIRECTS: "more redirects than --max-redirs allows",
    CurlExit.OBSOLETE51: "(before curl 7.62) the server certificate did not match the host name; now 60",
    CurlExit.GOT_NOTHING: "the server closed the connection without a reply",
    CurlExit.SEND_ERROR: "sending data failed",
    CurlExit.RECV_ERROR: "receiving data failed (a reset, or a TLS alert after the handshake)",
    CurlExit.SSL_CERTPROBLEM: "curl could not use the local client certificate or key",
    CurlExit.SSL_CIPHER: "curl could not use the cipher (or curve) list it was given",
    CurlExit.PEER_FAILED_VERIFICATION: "curl did not accept the server's certificate (its chain or its name)",
    CurlExit.SSL_CACERT_BADFILE: "curl could not load its CA certificates (--cacert, --capath)",
    CurlExit.HTTP2_STREAM: "the server reset or broke the HTTP/2 stream",
    CurlExit.PROXY: "the proxy handshake failed (a SOCKS proxy refused or could not reach the target)",
    CurlExit.SSL_CLIENTCERT: "the server requires a client certificate (only some TLS libraries say so)",
}


def describe(code: int) -> str:
    """``60 (CURLE_PEER_FAILED_VERIFICATION: curl did not accept ...)``, or just the number for one not listed."""
    try:
        known = CurlExit(code)
    except ValueError:
        return str(code)
    return f"{code} ({known.constant}: {known.meaning})"
