"""Who may use the service: the policy of the request gate, free of tornado.

Every request is judged from its headers alone, before any handler runs
(`indiws.web.gate` asks :meth:`AccessPolicy.check`):

1. **Host**: is the request addressed to a name this service is really reached
   by?  A DNS-rebinding page reaches the service under the attacker's own name
   (``evil.example`` resolving to 127.0.0.1), so its ``Host`` header gives it
   away.
2. **Cross-site**: if the request changes state, does a browser say it comes
   from a page of another origin (``Origin``, ``Sec-Fetch-Site``)?  Programs
   that are not browsers send neither header and pass.
3. **Token**: when the service requires its access token, does the request
   carry it (``Authorization: Bearer``, the token cookie, or ``?token=``)?

The token file (kept in the data directory, mode 0600) is read or created
here too.  docs/security.md explains the choices.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import re
import secrets
import socket
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "TOKEN_ENV",
    "TOKEN_FILE",
    "TOKEN_URL_FILE",
    "AccessPolicy",
    "Decision",
    "QuietLog",
    "Refusal",
    "RequestFacts",
    "TokenFileError",
    "access_options_error",
    "binds_beyond_loopback",
    "check_token_text",
    "load_or_create_token",
    "machine_names",
    "normalize_origin",
    "origin_listed",
    "parse_host",
    "write_private",
]

log = logging.getLogger("indiws")

#: Environment variable that gives the access token (like ``--token``).
TOKEN_ENV = "INDIWS_TOKEN"
#: Name of the token file in the data directory.
TOKEN_FILE = "token"
#: Beside it: the URL with the token a browser opens once (written when the
#: token is made; the log shows only its first and last characters).
TOKEN_URL_FILE = "token-url"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by this user only (0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


MIN_TOKEN_LENGTH = 16


class QuietLog:
    """At most one log line per kind every ``seconds``: what a hostile client
    can repeat at will (refused requests, connections, accept errors) must not
    flood the log.  The next line of a kind says how many were left out."""

    def __init__(self, logger: logging.Logger, seconds: float = 10.0) -> None:
        self.logger, self.seconds = logger, seconds
        self._last: dict[str, float] = {}
        self._left_out: dict[str, int] = {}

    def log(self, level: int, kind: str, msg: str, *args: Any) -> bool:
        """Log ``msg % args`` unless a line of ``kind`` was logged lately;
        True when logged."""
        now = time.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last < self.seconds:
            self._left_out[kind] = self._left_out.get(kind, 0) + 1
            return False
        self._last[kind] = now
        more = self._left_out.pop(kind, 0)
        suffix = f" (and {more} more like it since the last report)" if more else ""
        self.logger.log(level, msg + "%s", *args, suffix)
        return True

    def warning(self, kind: str, msg: str, *args: Any) -> bool:
        return self.log(logging.WARNING, kind, msg, *args)


# Characters that pass unescaped in URLs, cookies and headers (RFC 3986 unreserved).
_TOKEN_TEXT = re.compile(r"[A-Za-z0-9._~-]+")
_HOST_NAME = re.compile(r"[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?")

#: ``Sec-Fetch-Site`` values of requests from the service's own pages or typed
#: by the user; ``cross-site`` and ``same-site`` (another port) are foreign.
_OWN_FETCH_SITES = frozenset({"same-origin", "none"})

#: Methods that never change state (a GET may, see `RequestFacts.changes_state`).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# ---------------------------------------------------------------- host names


def parse_host(value: str) -> tuple[str, int | None]:
    """``"Example.org:7999"`` → ``("example.org", 7999)``; ``"[::1]"`` → ``("::1", None)``.

    The name is lower-cased, without brackets or a trailing dot.  Raises
    `ValueError` for anything that is not a host name or address with an
    optional port.
    """
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise ValueError(f"bad host {value!r}")
        name, rest = value[1:end], value[end + 1 :]
        ipaddress.IPv6Address(name.split("%", 1)[0])  # raises ValueError
        if rest and not rest.startswith(":"):
            raise ValueError(f"bad host {value!r}")
        port_text = rest[1:] if rest else None
    elif value.count(":") == 1:
        name, port_text = value.split(":")
    else:
        name, port_text = value, None
    port = None
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"bad port in host {value!r}")
        port = int(port_text)
    name = name.lower()
    if name.endswith(".") and not _is_ip(name):
        name = name[:-1]
    if not name or not (_is_ip(name) or _HOST_NAME.fullmatch(name)):
        raise ValueError(f"bad host {value!r}")
    return name, port


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _is_loopback(name: str) -> bool:
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def binds_beyond_loopback(host: str) -> bool:
    """True unless ``host`` (the address the service listens on) is loopback
    only: ``127.0.0.0/8``, ``::1`` or ``localhost``.  ``0.0.0.0``, ``::``, ``""``
    and any other name count as beyond (a name may resolve to anything)."""
    try:
        name, _ = parse_host(host if ":" not in host or host.startswith("[") else f"[{host}]")
    except ValueError:
        return True
    return not _is_loopback(name)


def machine_names() -> set[str]:
    """This machine's own names: its host name, the short form and ``NAME.local``
    (mDNS).  No DNS query: those could block, and only names the machine
    gives itself are wanted (an attacker cannot rebind them)."""
    names: set[str] = set()
    hostname = socket.gethostname().lower().rstrip(".")
    if hostname:
        short = hostname.split(".", 1)[0]
        names.update({hostname, short, f"{short}.local"})
    return names


# ------------------------------------------------------------------ origins


def normalize_origin(origin: str) -> str | None:
    """``"HTTP://Example.org:80/"`` → ``"http://example.org"`` (the form browsers
    send); None when it is not an http(s) origin (``null``, a path, garbage)."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_listed(origin: str, allowed: Iterable[str]) -> bool:
    """``origin`` is one of ``allowed`` (as given to --allow-origin), or that has "*"."""
    allowed = list(allowed)
    if "*" in allowed:
        return True
    norm = normalize_origin(origin) if origin.strip() != "null" else "null"
    return norm is not None and norm in {
        "null" if a.strip() == "null" else normalize_origin(a) for a in allowed
    }


def _same_origin(origin: str, host_header: str) -> bool:
    """The (normalized) origin names the host and port the request was sent to.

    The scheme only sets the default port: behind a TLS proxy the request
    arrives as http but the page's origin is https.  A Host without a port
    matches an origin on its scheme's default port.
    """
    parts = urlsplit(origin)
    try:
        name, port = parse_host(host_header)
    except ValueError:
        return False
    origin_port = parts.port or _DEFAULT_PORTS[parts.scheme]
    if port is None:
        port = _DEFAULT_PORTS[parts.scheme]
    return (parts.hostname or "").lower() == name and origin_port == port


# ---------------------------------------------------------------- decisions


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused: HTTP status, stable code name, a message that
    says what to do, and details."""

    status: int
    code: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the gate needs to know about a request, read from its headers."""

    method: str
    #: The ``Host`` header ("" when absent: not a browser).
    host: str = ""
    origin: str | None = None
    #: ``Sec-Fetch-Site``: ``same-origin``, ``same-site``, ``cross-site``, ``none``.
    fetch_site: str | None = None
    #: The request acts (a non-safe method, a WebSocket upgrade, or a GET of a
    #: handler that declares ``get_changes_state = True``).
    changes_state: bool = False
    authorization: str | None = None
    cookie_token: str | None = None
    query_token: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    refusal: Refusal | None = None
    #: The request proved the token with ``?token=``: give the browser the cookie.
    set_cookie: bool = False


def _matches(given: str, token: str) -> bool:
    # Constant time: a timing difference must not reveal how much was right.
    return hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8"))


@dataclass(slots=True)
class AccessPolicy:
    """The service's rules; build it with `AccessPolicy.build`."""

    #: Host names accepted besides IP addresses (lower case, no trailing dot).
    allowed_hosts: frozenset[str] = frozenset({"localhost"})
    #: Normalized origins besides the service's own that may act.
    allowed_origins: frozenset[str] = frozenset()
    any_origin: bool = False
    #: The access token; None: no token is asked for.
    token: str | None = None
    #: Where the service listens, for the messages ("0.0.0.0:7999").
    address: str = ""

    @classmethod
    def build(
        cls,
        *,
        bind_host: str,
        port: int,
        allow_hosts: Iterable[str] = (),
        allow_origins: Iterable[str] = (),
        token: str | None = None,
    ) -> AccessPolicy:
        hosts = {"localhost", *machine_names(), *(h.lower().rstrip(".") for h in allow_hosts)}
        try:
            name, _ = parse_host(bind_host if ":" not in bind_host else f"[{bind_host}]")
            if not _is_ip(name):
                hosts.add(name)  # --host obs.lan: the name it is reached by
        except ValueError:
            pass
        origins = list(allow_origins)
        normalized = {o for o in (normalize_origin(x) for x in origins) if o is not None}
        if "null" in origins:
            normalized.add("null")
        bind = f"[{bind_host}]" if ":" in bind_host else (bind_host or "0.0.0.0")
        return cls(
            allowed_hosts=frozenset(hosts),
            allowed_origins=frozenset(normalized),
            any_origin="*" in origins,
            token=token,
            address=f"{bind}:{port}",
        )

    # The three checks, in the order the gate applies them -------------

    def check(self, req: RequestFacts) -> Decision:
        refusal = self.check_host(req.host) or self.check_cross_site(req)
        if refusal is not None:
            return Decision(refusal)
        return self.check_token(req)

    def host_allowed(self, host_header: str) -> bool:
        if not host_header:
            return True  # HTTP/1.0 without Host: not a browser, so no rebinding
        try:
            name, _ = parse_host(host_header)
        except ValueError:
            return False
        # An IP address cannot be rebound: the browser connects to exactly it.
        return _is_ip(name) or name in self.allowed_hosts

    def check_host(self, host_header: str) -> Refusal | None:
        if self.host_allowed(host_header):
            return None
        return Refusal(
            421,
            "host_not_allowed",
            f"request for host {host_header!r} refused: this service answers only under "
            "its own names (localhost, its IP addresses, this machine's host name); a page "
            "that reaches it under another name may be a DNS-rebinding attack. If this "
            "name is really yours (a DNS alias, a reverse proxy), start indiws with "
            f"--allow-host {_host_name_hint(host_header)}",
            {"host": host_header},
        )

    def origin_allowed(self, origin: str, host_header: str) -> bool:
        """``origin`` is the service's own (that of ``host_header``) or allowed."""
        if self.any_origin:
            return True
        if origin.strip() == "null":
            return "null" in self.allowed_origins
        norm = normalize_origin(origin)
        if norm is None:
            return False
        return norm in self.allowed_origins or _same_origin(norm, host_header)

    def check_cross_site(self, req: RequestFacts) -> Refusal | None:
        if not req.changes_state:
            return None
        if req.origin is not None:
            if self.origin_allowed(req.origin, req.host):
                return None
            own = f"http://{req.host}" if req.host else "this service's"
            return Refusal(
                403,
                "cross_site_refused",
                f"cross-site request refused: Origin {req.origin} is not this service's "
                f"({own}); a page of another origin may not act on the hardware. To allow "
                f"that page, start indiws with --allow-origin {_origin_hint(req.origin)}",
                {"origin": req.origin},
            )
        site = req.fetch_site
        if site is not None and site not in _OWN_FETCH_SITES and not self.any_origin:
            # No Origin (a link, an <img>, a form GET), but the browser says
            # where it comes from.  Browsers send four lower-case values; any
            # other (a typo, two headers joined) is refused, not guessed at.
            return Refusal(
                403,
                "cross_site_refused",
                f"cross-site request refused: the browser sent it from a page of another "
                f"origin (Sec-Fetch-Site: {site}), e.g. a link or an image; it "
                "changes state, so it must come from this service's own pages, from a page "
                "allowed with --allow-origin (sending its Origin), or from a program",
                {"sec_fetch_site": site},
            )
        return None

    def check_token(self, req: RequestFacts) -> Decision:
        token = self.token
        if token is None or req.method == "OPTIONS":
            # A CORS preflight never carries credentials, and does nothing.
            return Decision()
        if req.authorization is not None:
            scheme, _, given = req.authorization.strip().partition(" ")
            if scheme.lower() == "bearer":
                if _matches(given.strip(), token):
                    return Decision()
                return Decision(self._wrong("the Authorization: Bearer header"))
        if req.query_token is not None:
            if _matches(req.query_token, token):
                ok = req.cookie_token is not None and _matches(req.cookie_token, token)
                return Decision(set_cookie=not ok)
            return Decision(self._wrong("the token query parameter"))
        if req.cookie_token is not None:
            if _matches(req.cookie_token, token):
                return Decision()
            return Decision(
                self._wrong(
                    "the cookie (the token has changed since the browser got it; open the "
                    "service's URL with ?token=<token> again)"
                )
            )
        return Decision(
            Refusal(
                401,
                "token_required",
                f"access token required: this service (listening on {self.address}) answers "
                "only requests that carry its token. Programs: send the header "
                "'Authorization: Bearer <token>'; browsers: open the URL with ?token=<token> "
                "printed in the service's log once (it sets a cookie); WebSocket clients that "
                "cannot set headers: add ?token=<token> to the URL. The token is kept in the "
                "file 'token' of the service's data directory",
                {"accepted": ["Authorization: Bearer", "cookie", "token query parameter"]},
            )
        )

    def _wrong(self, where: str) -> Refusal:
        return Refusal(
            401,
            "token_invalid",
            f"wrong access token in {where}; the token is in the file 'token' of the "
            "service's data directory, or the one given with --token/" + TOKEN_ENV,
            {},
        )


def _host_name_hint(host_header: str) -> str:
    try:
        return parse_host(host_header)[0]
    except ValueError:
        return "NAME"


def _origin_hint(origin: str) -> str:
    return normalize_origin(origin) or "ORIGIN"


# ------------------------------------------------------------------- tokens


class TokenFileError(OSError):
    """The token file cannot be read, created or does not hold a valid token."""


def check_token_text(token: str) -> str | None:
    """None when ``token`` is usable, else what is wrong with it."""
    if len(token) < MIN_TOKEN_LENGTH:
        return f"it must have at least {MIN_TOKEN_LENGTH} characters, not {len(token)}"
    if not _TOKEN_TEXT.fullmatch(token):
        return "it may hold only letters, digits and . _ ~ - (it goes into URLs and cookies)"
    return None


def access_options_error(
    allow_origins: Iterable[str], allow_hosts: Iterable[str], token: str | None
) -> str | None:
    """What is wrong with --allow-origin, --allow-host or --token (None: nothing)."""
    for origin in allow_origins:
        if origin not in ("*", "null") and normalize_origin(origin) is None:
            return (
                f"--allow-origin {origin!r} is not an origin: write scheme://host[:port] as "
                "the browser's address bar shows it, e.g. http://localhost:8080"
            )
    for name in allow_hosts:
        try:
            parse_host(name)
        except ValueError:
            return f"--allow-host {name!r} is not a host name"
    if token is not None and (problem := check_token_text(token)):
        return f"--token (or ${TOKEN_ENV}) is not usable: {problem}"
    return None


def load_or_create_token(path: Path) -> tuple[str, bool]:
    """The token kept in ``path``, made (random, 256 bits) when the file does not
    exist.  Returns ``(token, created)``.  The file is created with mode 0600
    and tightened to it when found looser."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_token(path), False
    except OSError as exc:
        raise TokenFileError(
            f"cannot create the access token file {path}: {exc.strerror}; make the data "
            "directory writable or give a token with --token/" + TOKEN_ENV
        ) from None
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token, True


def _read_token(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        if stat.S_IMODE(mode) & 0o077:
            os.chmod(path, 0o600)
            log.warning("the access token file %s was readable by others: now mode 0600", path)
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenFileError(
            f"cannot read the access token file {path}: {exc}; fix its permissions or "
            "delete it to have a new token made"
        ) from None
    problem = check_token_text(token)
    if problem:
        raise TokenFileError(
            f"the access token file {path} does not hold a usable token ({problem}); "
            "delete it to have a new one made at the next start"
        )
    return token
