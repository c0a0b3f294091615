"""Where webhooks may go, and the one POST to a checked address (SSRF).

A target URL must be ``http`` or ``https``, name no user or password, and its host must
be one of ``WEBHOOK_ALLOWED_HOSTS`` (empty by default: no webhook until an admin allows
a host). At each delivery the host is resolved and every address checked: an address
of this machine or of a private, loopback, link-local, multicast, reserved or
unspecified range is refused unless that address itself is allowed (so allowing
``hooks.example.org`` never lets its DNS point the request at the app's own network).
The request is then made to the checked address (the ``Host`` header and TLS server
name stay the URL's host), so DNS cannot change the address between the check and the
connection. Redirects are never followed: a 3xx answer is a failed attempt and its
``Location`` is not fetched.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEMES = {"http": 80, "https": 443}
MAX_URL_LENGTH = 2000
# Most of an answer's body read (bytes): enough for an error message.
MAX_ANSWER_BYTES = 4096
USER_AGENT = "BorderRisk-Webhooks/1"


class TargetError(ValueError):
    """A URL that may not be a webhook's target; the message says why."""


@dataclass(frozen=True)
class Target:
    """A checked URL: scheme, host (lower case, IPv6 without brackets), port, and the
    path with its query."""

    scheme: str
    host: str
    port: int
    path: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == SCHEMES[self.scheme] else f"{host}:{self.port}"


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _allowed(host: str, allowed_hosts) -> bool:
    """Whether ``host`` (a name or an address) is one of ``allowed_hosts``."""
    wanted = {h.strip().lower().strip("[]") for h in allowed_hosts}
    address = _literal(host)
    if address is not None:
        return any(_literal(h) == address for h in wanted)
    return host.rstrip(".") in {h.rstrip(".") for h in wanted}


def parse_target(url, allowed_hosts) -> Target:
    """The checked target of ``url``.

    Raises
    ------
    TargetError
        Not http(s), a user name or password in it, no host, a bad port, or a host not
        in ``allowed_hosts``.
    """
    if not isinstance(url, str) or not url.strip():
        raise TargetError("must be an http or https URL")
    if len(url) > MAX_URL_LENGTH or any(c in url for c in "\r\n\t\x00 "):
        raise TargetError(f"must be a URL of at most {MAX_URL_LENGTH} characters without "
                          "spaces or control characters")
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in SCHEMES:
        raise TargetError("must be an http or https URL")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise TargetError("must not hold a user name or password (userinfo)")
    try:
        port = parts.port
    except ValueError:
        raise TargetError("has an invalid port") from None
    host = (parts.hostname or "").lower()
    if not host:
        raise TargetError("must name a host")
    if not allowed_hosts or not _allowed(host, allowed_hosts):
        raise TargetError(f"host {host[:64]!r} is not one of WEBHOOK_ALLOWED_HOSTS "
                          "(an administrator allows the hosts webhooks may reach)")
    scheme = parts.scheme.lower()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, host, port or SCHEMES[scheme], path)


def _own_addresses() -> set:
    """This machine's addresses by its host name (best effort)."""
    found = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            found.add(ipaddress.ip_address(info[4][0].split("%")[0]))
    except (OSError, ValueError):
        pass
    return found


def _internal(address) -> bool:
    """Whether ``address`` is anything but a public unicast one: private, loopback,
    link-local, shared (100.64.0.0/10, where some clouds keep their metadata service),
    site-local, multicast, reserved, unspecified, or this machine's own. An IPv6
    address that carries an IPv4 one (mapped, 6to4, Teredo) is judged by that too."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [a for a in (address.ipv4_mapped, address.sixtofour,
                                address.teredo[1] if address.teredo else None) if a]
        if any(_internal(a) for a in embedded):
            return True
    return (not address.is_global or address.is_multicast
            or getattr(address, "is_site_local", False) or address.is_private
            or address.is_loopback or address.is_link_local
            or address.is_reserved or address.is_unspecified
            or address in _own_addresses())


def resolve(target: Target, allowed_hosts) -> str:
    """The address to connect to: the first address of the host that is public, or
    allowed by itself.

    Raises
    ------
    TargetError
        The name does not resolve, or every address is internal and not allowed.
    """
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise TargetError(f"host {target.host!r} does not resolve ({exc})") from None
    refused = []
    for info in infos:
        text = info[4][0].split("%")[0]
        address = ipaddress.ip_address(text)
        if not _internal(address) or _allowed(text, allowed_hosts):
            return text
        refused.append(text)
    raise TargetError(f"host {target.host!r} resolves to {', '.join(refused[:3])}: an "
                      "address of this machine or its networks, not itself in "
                      "WEBHOOK_ALLOWED_HOSTS")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to a given address, whatever the host name resolves to."""

    def __init__(self, address: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to a given address; the certificate is checked against the
    URL's host name."""

    def __init__(self, address: str, *args, **kwargs):
        super().__init__(*args, context=ssl.create_default_context(), **kwargs)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass
class Answer:
    """What one POST gave: ``status`` (None when no answer), ``error`` (None on 2xx),
    ``latency_ms`` (milliseconds to the answer's status line, or to the failure)."""

    status: int | None
    error: str | None
    latency_ms: float

    @property
    def ok(self) -> bool:
        return self.error is None


def post(url: str, body: bytes, headers: dict[str, str], *, allowed_hosts,
         timeout_s: float) -> Answer:
    """POST ``body`` to ``url`` once (checked, resolved and pinned as above); a 2xx
    answer is a success, anything else (3xx included: never followed) a failure."""
    started = time.monotonic()

    def elapsed() -> float:
        return (time.monotonic() - started) * 1000.0

    try:
        target = parse_target(url, allowed_hosts)
        address = resolve(target, allowed_hosts)
    except TargetError as exc:
        return Answer(None, f"refused target: {exc}", elapsed())
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = kind(address, target.host, target.port, timeout=timeout_s)
    try:
        connection.putrequest("POST", target.path, skip_host=True,
                              skip_accept_encoding=True)
        for name, value in {"Host": target.host_header, "User-Agent": USER_AGENT,
                            "Content-Length": str(len(body)), **headers}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        latency = elapsed()
        text = response.read(MAX_ANSWER_BYTES).decode("utf-8", "replace").strip()
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:500], elapsed())
    finally:
        connection.close()
    if 200 <= status < 300:
        return Answer(status, None, latency)
    if 300 <= status < 400:
        return Answer(status, f"HTTP {status}: a redirect, not followed", latency)
    return Answer(status, f"HTTP {status}" + (f": {text[:200]}" if text else ""), latency)
