"""One HTTP/1.1 request as a client, over a stream the caller opened: the load balancer's hop to a backend.

h11 does the protocol. The caller chooses the header fields; the framing is this module's: it drops the
caller's Content-Length, Transfer-Encoding, Expect and hop-by-hop fields and frames the body it was given
(the whole body is already here, so there is nothing to wait for a 100 Continue for). A ``100 Continue``
from the backend is skipped; an answer to HEAD keeps the backend's Content-Length in
:attr:`Response.length`, so the client is told the length of the body it did not ask for.
"""

from __future__ import annotations

import h11
import trio

from lab.protocols.octets import readable, wire
from lab.runtime.httpserve import Response

FRAMING = frozenset(
    {"content-length", "transfer-encoding", "expect", "connection", "keep-alive", "proxy-connection", "te", "upgrade"}
)


async def fetch(
    stream: trio.abc.Stream, *, method: str, target: str, headers: list[tuple[str, str]], body: bytes = b""
) -> Response:
    """Send one request on ``stream`` and read the whole response (status 502 if none came)."""
    conn = h11.Connection(h11.CLIENT)
    fields = [(wire(k), wire(v)) for k, v in headers if k.lower() not in FRAMING]  # h11 would encode str as ASCII
    if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
        fields.append((b"content-length", str(len(body)).encode()))
    events: list[h11.Event] = [h11.Request(method=wire(method), target=wire(target), headers=fields)]
    if body:
        events.append(h11.Data(data=body))
    await stream.send_all(b"".join(conn.send(e) or b"" for e in (*events, h11.EndOfMessage())))
    status, out_headers, data, length = 502, [], bytearray(), None
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(bytes(await stream.receive_some(65536)))
        elif isinstance(event, h11.InformationalResponse):
            continue  # 100 Continue: the body went with the request
        elif isinstance(event, h11.Response):
            status = event.status_code
            for name, value in event.headers:
                if name == b"content-length":
                    length = int(value)
                else:
                    out_headers.append((readable(name), readable(value)))
        elif isinstance(event, h11.Data):
            data += event.data
        else:  # EndOfMessage, or the backend closed the connection
            break
    return Response(status=status, headers=out_headers, body=bytes(data), length=length if method == "HEAD" else None)
