"""The request head of HTTP/1.x, read strictly: shared by the webhook listener and the health
endpoint, our two small HTTP servers (standard library only)."""

from __future__ import annotations


def parse_head(head: bytes) -> tuple[bytes, bytes, bytes, dict[str, str]] | None:
    """(method, target, version, headers by lower-case name) of a head ending in CRLF CRLF;
    None when it is malformed, not HTTP/1.0 or 1.1, or repeats a header (request smuggling)."""
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
        return None
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        key = name.decode("latin-1").lower()
        if not sep or not key or key != key.strip() or key in headers:
            return None
        headers[key] = value.strip().decode("latin-1")
    return method, target, version, headers
