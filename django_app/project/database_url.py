"""DATABASE_URL -> a Django DATABASES entry, libpq's multi-host form included.

    postgres://user:pass@db1:5432,db2:5432/shop?target_session_attrs=read-write

becomes HOST "db1,db2", PORT "5432,5432" and OPTIONS {"target_session_attrs": "read-write"}:
Django hands HOST, PORT and OPTIONS to psycopg, and libpq tries the hosts in turn until one
accepts a session of the kind asked for (docs/clusters.md). `urlsplit` alone would keep the
first host and fail on the port list, so the address part is parsed here.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

SCHEMES = frozenset({"postgres", "postgresql"})
#: libpq's accepted values (PostgreSQL 14+); a typo would otherwise surface at the first connect
TARGET_SESSION_ATTRS = frozenset(
    {"any", "read-write", "read-only", "primary", "standby", "prefer-standby"}
)


class DatabaseURLError(ValueError):
    """DATABASE_URL cannot be turned into a database setting; the message says which part."""


def _host_and_port(address: str, url_position: int) -> tuple[str, str]:
    """One address of the list, split: db1:5432, [::1]:5432 (brackets dropped) or db1 (port "")."""
    if address.startswith("["):
        host, bracket, rest = address[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise DatabaseURLError(f"DATABASE_URL host #{url_position}: bad IPv6 {address!r}")
        port = rest[1:]
    else:
        host, _, port = address.partition(":")
    if not host:
        raise DatabaseURLError(f"DATABASE_URL host #{url_position} is empty in {address!r}")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise DatabaseURLError(
            f"DATABASE_URL host #{url_position}: port {port!r} is not a number from 1 to 65535"
        )
    return host, port


def _options(query: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise DatabaseURLError(f"DATABASE_URL query {query!r} is malformed: {exc}") from None
    options: dict[str, str] = {}
    for key, value in pairs:
        if key in options:
            raise DatabaseURLError(f"DATABASE_URL names {key!r} twice in its query")
        options[key] = value
    attrs = options.get("target_session_attrs")
    if attrs is not None and attrs not in TARGET_SESSION_ATTRS:
        raise DatabaseURLError(
            f"DATABASE_URL target_session_attrs={attrs!r}: libpq accepts "
            + ", ".join(sorted(TARGET_SESSION_ATTRS))
        )
    return options


def database_from_url(url: str) -> dict[str, object]:
    """The DATABASES entry of a postgres:// URL with one host or several (comma-separated)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # urlsplit's own check of IPv6 brackets
        raise DatabaseURLError(f"DATABASE_URL: bad IPv6 address ({exc})") from None
    if parts.scheme not in SCHEMES:
        raise DatabaseURLError(f"DATABASE_URL must be postgres://..., got scheme {parts.scheme!r}")
    userinfo, _, addresses = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    hosts: list[str] = []
    ports: list[str] = []
    if addresses:
        for position, address in enumerate(addresses.split(","), start=1):
            host, port = _host_and_port(address, position)
            hosts.append(host)
            ports.append(port)
    entry: dict[str, object] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(user),
        "PASSWORD": unquote(password),
        "HOST": ",".join(hosts),
        # libpq reads an empty item of a port list as the default port
        "PORT": ",".join(ports) if any(ports) else "",
    }
    if parts.query:
        entry["OPTIONS"] = _options(parts.query)
    return entry


def url_from_database(entry: dict[str, object]) -> str:
    """The postgres:// URL of a DATABASES entry (the inverse of `database_from_url`), for a
    process that must reach the same database: every host, every port, the libpq options."""
    user = quote(str(entry.get("USER") or ""), safe="")
    password = quote(str(entry.get("PASSWORD") or ""), safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    hosts = str(entry.get("HOST") or "").split(",")
    ports = str(entry.get("PORT") or "").split(",")
    if len(ports) == 1:
        ports = ports * len(hosts)
    if len(ports) != len(hosts):
        raise DatabaseURLError(f"{len(hosts)} hosts but {len(ports)} ports: {ports}")
    netloc = ",".join(
        (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
        for host, port in zip(hosts, ports, strict=True)
    )
    options = entry.get("OPTIONS")
    strings = options.items() if isinstance(options, dict) else ()
    query = urlencode({key: value for key, value in strings if isinstance(value, str)})
    return f"postgresql://{auth}{netloc}/{entry.get('NAME') or ''}" + (f"?{query}" if query else "")
