"""Read what matters out of ``curl -v`` output, without I/O.

Used on real curl's stderr (to show a learner the few lines that decide the outcome) and on pasted
transcripts (``lab import``). Understands curl 7.x and 8.x, OpenSSL and LibreSSL wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ERROR = re.compile(r"^curl: \((\d+)\) (.*)$")
USAGE_ERROR = re.compile(r"^curl: (?!try ')(.+)$")

# The lines a learner should see: where curl connected, what TLS said, what was sent and answered.
_KEY = re.compile(
    r"^\*\s+(?:"
    r"Added .* to DNS cache|Hostname .* was found in DNS cache|Connecting to hostname:|"
    r"Trying |Connected to |Establish HTTP proxy tunnel|CONNECT tunnel|Proxy replied|"
    r"Uses proxy env variable|SOCKS|ALPN|SSL connection using|"
    r"TLSv1\.[23] \(IN\), TLS alert|OpenSSL SSL_|LibreSSL SSL_|SSL certificate problem|"
    r"SSL: |subjectAltName|\s*subject:|\s*issuer:|\s*SSL certificate verify|"
    r"Server certificate|using HTTP|Recv failure|Send failure|Failed to connect|"
    r"Could not resolve|Received HTTP code|Operation timed out|Connection #?\d* ?to host|"
    r"schannel|Closing connection|Request completely sent off"
    r")"
)


@dataclass(frozen=True, slots=True)
class CurlVerbose:
    key_lines: tuple[str, ...]
    error: str | None  # "curl: (60) SSL: no alternative ..."
    error_code: int | None
    connected: tuple[str, ...] = field(default=())  # "mydomain (88.88.88.88) port 443"
    request_lines: tuple[str, ...] = field(default=())  # "> GET / HTTP/2" ...
    response_status: str | None = None  # "< HTTP/2 200"


def parse(stderr: str) -> CurlVerbose:
    key: list[str] = []
    connected: list[str] = []
    requests: list[str] = []
    status: str | None = None
    error: str | None = None
    code: int | None = None
    for raw in stderr.splitlines():
        line = raw.rstrip()
        match = ERROR.match(line)
        if match:
            error, code = line, int(match.group(1))
            continue
        if USAGE_ERROR.match(line) and error is None:  # "curl: option --proxy-resolve: is unknown" (exit 2)
            error = line
            continue
        if line.startswith("* Connected to "):
            connected.append(line.removeprefix("* Connected to ").split(" (#")[0])
        if _KEY.match(line):
            key.append(line)
        elif line.startswith("> ") and (" HTTP/" in line or line.startswith("> CONNECT")):
            key.append(line)
            requests.append(line)
        elif line.startswith("< HTTP/"):
            key.append(line)
            status = status or line
        elif line.lower().startswith("< served-by:"):
            key.append(line)
    return CurlVerbose(
        key_lines=tuple(key),
        error=error,
        error_code=code,
        connected=tuple(connected),
        request_lines=tuple(requests),
        response_status=status,
    )
