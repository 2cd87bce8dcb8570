"""Who is on the other end of a request, and which site sent it.

**The client's address.** Behind a reverse proxy every request comes from the proxy, and the
proxy names the real client in ``X-Forwarded-For``. Anyone can send that header, so it is
believed only from the proxies listed in ``api.trusted_proxies``: then the client is the
rightmost address in the header that is not itself a trusted proxy (each proxy appends the
address it saw; what lies further left was written by the client and proves nothing).
From any other peer the header is ignored. The login throttle and the audit log use this
address, so rotating the header neither escapes the one nor forges the other. uvicorn must
not rewrite the address itself: ``serve`` starts it with ``proxy_headers=False``.

**The site that sent a request.** A browser says which page made a request in ``Origin``
(or at least ``Referer``). A request that carries our session cookie, or a login form, from
a page of another site is refused; requests without either header (machine clients, API
keys) have no cookie a site could abuse and pass.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """Parse CIDR strings (``10.0.0.0/8``, ``::1``); ValueError names a bad one."""
    parsed = []
    for cidr in cidrs:
        try:
            parsed.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{cidr!r} is not an IP address or network (CIDR)") from None
    return tuple(parsed)


def _within(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def _trusted(request: Request) -> tuple[Network, ...]:
    value = getattr(request.app.state, "trusted_proxies", ())
    return value if isinstance(value, tuple) else ()


def client_address(request: Request) -> str:
    """The client's IP address, believing X-Forwarded-For only from trusted proxies."""
    peer = request.client.host if request.client else "unknown"
    trusted = _trusted(request)
    forwarded = request.headers.get("x-forwarded-for")
    if not forwarded or not _within(peer, trusted):
        return peer
    for hop in reversed(forwarded.split(",")):
        hop = hop.strip()
        if not _within(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:  # not an address: the proxy did not write it, nothing to believe
                return peer
    return peer


def throttle_key(address: str) -> str:
    """The address as the login throttle counts it: an IPv6 client by its /64, since one
    host usually holds a whole /64 and could otherwise take a fresh address per attempt."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _host_of(request: Request) -> str:
    """This site's ``host[:port]`` as the browser addressed it (a trusted proxy may say)."""
    host = request.headers.get("host", "")
    peer = request.client.host if request.client else ""
    if _within(peer, _trusted(request)):
        host = request.headers.get("x-forwarded-host", host).split(",")[0].strip()
    host = host.lower()
    for port in _DEFAULT_PORTS.values():
        host = host.removesuffix(f":{port}")
    return host


def foreign_origin(request: Request) -> str | None:
    """The other site that made this request, or None when it is this site or unknown.

    ``Origin`` wins; without it the ``Referer``'s origin is used. ``Origin: null`` (a
    sandboxed page, a file, a redirect across sites) counts as foreign. Only host and port
    are compared: behind a TLS-terminating proxy the scheme the server sees differs.
    """
    sent = (request.headers.get("origin") or request.headers.get("referer") or "").strip()
    if not sent:
        return None
    parts = urlsplit(sent)
    try:
        port = parts.port
    except ValueError:
        return sent[:100]
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return sent[:100]
    name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = name if port is None or str(port) == _DEFAULT_PORTS[parts.scheme] else f"{name}:{port}"
    if netloc == _host_of(request):
        return None
    return f"{parts.scheme}://{netloc}"[:100]
