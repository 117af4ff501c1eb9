"""Every Playdeck setting, read from PLAYDECK_* environment variables in one place.

With nothing set, Playdeck runs on the embedded default: SQLite and a filesystem broker inside the
data directory, so a newcomer needs no server. Production switches by setting the URLs.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The source tree that ships the sample playbooks and inventories next to the packages.
SOURCE_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(f"PLAYDECK_{name}")
    return default if value is None or value == "" else value


def _int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


def _float(name: str, default: float) -> float:
    return float(_env(name, str(default)))


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(name: str) -> tuple[Network, ...]:
    """A comma-separated CIDR list ("10.1.2.0/24, ::1/128"); a bad entry stops the process at once."""
    try:
        return tuple(
            ipaddress.ip_network(entry.strip(), strict=False) for entry in _env(name, "").split(",") if entry.strip()
        )
    except ValueError as exc:
        raise ValueError(f"PLAYDECK_{name}: {exc}") from None


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _env(name, default).lower()
    if value not in choices:
        raise ValueError(f"PLAYDECK_{name} must be one of {', '.join(choices)} (got {value!r})")
    return value


RUN_SANDBOXES = ("auto", "bwrap", "none")


def _secret_from_file(name: str) -> str:
    """PLAYDECK_<name>, else the content of the file PLAYDECK_<name>_FILE names (whitespace stripped): a secret
    kept in a file is in no process's environment."""
    value, path = _env(name, ""), _env(f"{name}_FILE", "")
    if value or not path:
        return value
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ValueError(f"PLAYDECK_{name}_FILE {path}: {exc.strerror}") from None


def _flag(name: str, default: bool) -> bool:
    return _env(name, "1" if default else "0").lower() in ("1", "true", "yes", "on")


def _optional_path(name: str) -> Path | None:
    return Path(_env(name, "")).resolve() if _env(name, "") else None


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    broker_url: str
    playbook_dir: Path
    inventory_dir: Path
    web_host: str
    web_port: int
    # Requests each web process executes at once (webui.admission); the rest wait their turn. SSE
    # streams and downloads do not count once their view has returned.
    web_active_requests: int
    api_url: str
    # Longest run we allow; the broker's visibility timeout must stay above it, or Redis redelivers
    # a message whose run is still executing (celery#5935).
    max_run_seconds: int
    visibility_timeout: int
    worker_concurrency: int
    heartbeat_seconds: float
    # A running run silent this long is shown as "no output for N s" (run page, /attention), or at half
    # its idle timeout if that comes sooner: before the idle timeout stops it.
    silence_notice_seconds: float
    event_flush_seconds: float
    event_batch_size: int
    cancel_poll_seconds: float
    # How often a running run's worker reads whether it was canceled, and a worker master whether it
    # was asked to drain; bounds both latencies.
    control_poll_seconds: float
    # After a cancel, how long the run's processes get to exit on TERM before they are killed.
    stop_grace_seconds: float
    # The reaper: a running run without a heartbeat for this long is lost (a few missed beats, so a
    # short DB blip does not end a healthy deploy); a queued run not started this long after its
    # message was sent gets another message (the broker may have lost the first).
    reaper_interval_seconds: float
    lost_after_seconds: float
    redispatch_after_seconds: float
    # How long a worker keeps retrying the writes that end a run (last events, terminal state) while
    # the DB is unreachable, before giving up and leaving the run to the reaper.
    db_outage_patience_seconds: float
    # A worker that has not reached the DB (no heartbeat written) for this long stops its runs' playbooks on
    # its own: cut off (a network partition), it will be declared lost by the reaper at lost_after_seconds
    # anyway, and stopping first means a lost run's retry never runs beside it. Below lost_after_seconds.
    partition_stop_seconds: float
    # Below MySQL's wait_timeout (28800 s by default) so the pool never hands out a connection the
    # server already closed.
    pool_recycle: int
    artifact_retention_days: int
    # Ended runs queued longer ago than this leave the DB with their events (the reaper purges hourly,
    # in small transactions); 0 keeps every run.
    run_retention_days: int
    # DNS regeneration: the inventory (relative to the inventory directory) of the host running BIND,
    # the directory BIND reads Playdeck's zone files from, where it answers queries (to verify the
    # serial served) and the rndc configuration (key, control channel) the playbook reloads it with
    # (empty: rndc's own default, /etc/bind/rndc.conf or rndc.key).
    dns_inventory: str
    dns_zone_dir: Path
    dns_server: str
    dns_port: int
    dns_rndc_conf: str
    # A zone's regenerations start at least this far apart: the changes of a burst wait a little and
    # share a run instead of each change running the playbook (bench.dns: 1,000 changes in 10 s).
    dns_regeneration_spacing_seconds: float
    # Webhooks (playdeck.webhook_delivery, in the reaper process): how often due deliveries are looked
    # for, how long a receiver gets to answer, and the retries: the n-th retry waits
    # webhook_retry_seconds * 2**(n-1), at most an hour, and a delivery is given up after
    # webhook_max_attempts attempts (the defaults span about 20 minutes).
    webhook_poll_seconds: float
    webhook_timeout_seconds: float
    webhook_retry_seconds: float
    webhook_max_attempts: int
    # Networks webhooks may reach although they are loopback, link-local or private (playdeck.webhook_targets).
    webhook_allowed_networks: tuple[Network, ...]
    max_request_bytes: int
    # The login cookie is sent over HTTPS only: set when the web is served over HTTPS (a request that
    # arrives over HTTPS gets a Secure cookie anyway).
    secure_cookies: bool
    # How many reverse proxies in front of the web append to X-Forwarded-For: the client's address is the
    # Nth entry from the right (what the outermost trusted proxy saw). 0: the header is ignored, since
    # anyone can send one; the connection's address is the client's.
    trusted_proxies: int
    # The CLI's credential for the API (``playdeck token create``), sent as a Bearer token. Kept out of repr().
    api_token: str = field(repr=False)
    runs_per_page: int
    # The Fernet key(s) the project secrets (SSH keys, become and vault passwords) are encrypted with; from
    # the environment only, never stored in the DB. 32 url-safe base64 bytes, made with
    #   python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"
    # To rotate: "new,old" (the first encrypts, all decrypt), `playdeck secret reencrypt` (playdeck.key_rotation),
    # then "new".
    # Empty: no secret can be set or used (runs of projects without secrets need none). Kept out of repr().
    secret_key: str = field(repr=False)
    # Where a run's playbook executes (runners.sandbox): "bwrap" in a bubblewrap sandbox that shows it nothing of
    # the platform (a run fails if bwrap is missing or unusable), "none" as the worker's own user with nothing
    # hidden, "auto" bwrap when it works on this host, else none with a warning in the worker's log.
    # PLAYDECK_SECRET_KEY_FILE: the file the key was read from (0600, the platform's user's), so that the key is in
    # no process's environment; a sandboxed run sees /dev/null there.
    secret_key_file: Path | None = None
    run_sandbox: str = "auto"
    # Besides the run's private dir, the apps dir and the DNS zone dir: paths a sandboxed run may write
    # (absolute, separated by ":"; missing ones are skipped). Everything else it sees read-only.
    run_writable_paths: tuple[Path, ...] = ()
    # Git sources (playdeck.git): every git command is stopped after git_timeout_seconds; a connection that
    # moves under 1 KB/s for git_stall_seconds (HTTPS), or an SSH server silent that long, fails sooner. A
    # project's mirror may not grow over git_max_mirror_mb (the fetch is stopped, the mirror removed).
    # git_ca_file: a CA bundle HTTPS git servers are checked against instead of the system's (a private CA).
    git_timeout_seconds: float = 600.0
    git_stall_seconds: int = 60
    git_max_mirror_mb: int = 2048
    git_ca_file: Path | None = None
    # A git run's roles/ and collections/requirements.yml (runners.galaxy): ansible-galaxy is stopped after
    # galaxy_timeout_seconds, and gives up on a Galaxy server silent for galaxy_server_timeout_seconds.
    galaxy_timeout_seconds: float = 600.0
    galaxy_server_timeout_seconds: int = 60
    # Deploy on push (playdeck.releases.push_deploys): the user a push hook's deploys are requested as. It must
    # exist, be active and be allowed to deploy there (a developer granted the project for unprotected
    # environments, a release manager for protected ones), like a person; without it, pushes deploy nothing.
    git_hook_user: str = "git-hook"
    # Routed notifications (playdeck.notifications). base_url: the web UI's address as people reach it, for
    # the links in notifications (PLAYDECK_BASE_URL; default PLAYDECK_URL). E-mail goes through smtp_host
    # ("" : e-mail destinations fail their deliveries with that reason), with STARTTLS unless smtp_starttls
    # is off, the server's certificate checked against the system's CAs or smtp_ca_file (a private CA),
    # logging in when smtp_user is set. A running deploy past running_long_factor × the median duration of
    # the last running_long_runs successful deploys of its environment is "running longer than usual"
    # (factor 0: never).
    base_url: str = "http://127.0.0.1:8000"
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_from: str = "playdeck@localhost"
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = 10.0
    smtp_ca_file: Path | None = None
    running_long_factor: float = 2.0
    running_long_runs: int = 10
    # Schedules (playdeck.schedules): the reaper looks for due schedules every schedule_interval_seconds (a
    # pass with nothing due is one indexed query), so a fire is at most that late. A fire time more than
    # schedule_missed_after_seconds past when a scheduler gets to it was missed (no scheduler ran): the
    # schedule's missed policy decides.
    schedule_interval_seconds: float = 0.5
    schedule_missed_after_seconds: float = 120.0
    # A rehearsal clock for schedules only (playdeck.schedules.clock): when set, the schedules' "now" is the
    # instant written in this file plus the real time since the file last changed; runs, heartbeats and
    # everything else keep the real clock.
    schedule_clock_file: Path | None = None
    # Pipelines (playdeck.pipelines.engine): the reaper looks for steps whose run has ended every
    # pipeline_interval_seconds (one indexed query when nothing ended), so the next step starts at most that late.
    pipeline_interval_seconds: float = 1.0
    # OpenID Connect login (playdeck.auth.sso.oidc); off while oidc_issuer is "". The provider is found from its
    # issuer URL (discovery); oidc_client_secret comes from PLAYDECK_OIDC_CLIENT_SECRET or the file
    # PLAYDECK_OIDC_CLIENT_SECRET_FILE names. The user name and the groups are read from the ID token's claims
    # oidc_user_name_claim and oidc_groups_claim; the login page's button says "Log in with <oidc_display_name>".
    # Each request to the provider gets oidc_timeout_seconds; ID token times may be off by oidc_clock_skew_seconds
    # (at most 300). oidc_ca_file: a CA bundle the provider is checked against instead of the system's.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = field(default="", repr=False)
    oidc_scopes: tuple[str, ...] = ("openid", "profile", "email")
    oidc_user_name_claim: str = "preferred_username"
    oidc_groups_claim: str = "groups"
    oidc_display_name: str = "single sign-on"
    oidc_timeout_seconds: float = 5.0
    oidc_clock_skew_seconds: int = 60
    oidc_ca_file: Path | None = None
    # Password logins: off once single sign-on works, except for the break-glass users named (a local admin to
    # get in while the provider is down).
    local_logins: bool = True
    break_glass_users: tuple[str, ...] = ()
    # Logging in with the company's directory (playdeck.auth.ldap), off while ldap_urls is empty. Users without a
    # local password are looked up under ldap_user_base by ldap_user_attribute (and ldap_user_filter) with the
    # service account ldap_bind_dn, then bound to as themselves; the connection is LDAPS (ldaps://) or StartTLS
    # (ldap://, which needs ldap_starttls), the server's certificate checked against the system's CAs or
    # ldap_ca_file. Groups: the groupOfNames (AD: group) entries under ldap_group_base naming the user as a
    # member, or without a group base the user's memberOf; nested ones too with ldap_nested_groups (AD: the
    # server resolves them, ldap_active_directory; others: a walk at most ldap_nesting_depth levels deep). A user
    # in more than ldap_max_groups groups is refused. Every connection attempt gives up after
    # ldap_connect_timeout_seconds, every answer after ldap_receive_timeout_seconds. A person is linked to their
    # Playdeck user by the first of ldap_id_attributes their entry has (a stable id that a rename or a move to
    # another OU keeps; binary objectGUID as a GUID string), by the DN when it has none (playdeck.auth.ldap.entry_id).
    ldap_urls: tuple[str, ...] = ()
    ldap_starttls: bool = False
    ldap_ca_file: Path | None = None
    ldap_bind_dn: str = ""
    ldap_bind_password: str = field(default="", repr=False)
    # The file it was read from (PLAYDECK_LDAP_BIND_PASSWORD_FILE), hidden from sandboxed runs like the key file.
    ldap_bind_password_file: Path | None = None
    ldap_user_base: str = ""
    ldap_user_attribute: str = "uid"
    ldap_user_filter: str = "(objectClass=person)"
    ldap_group_base: str = ""
    ldap_nested_groups: bool = False
    ldap_active_directory: bool = False
    ldap_nesting_depth: int = 8
    ldap_max_groups: int = 500
    ldap_connect_timeout_seconds: float = 3.0
    ldap_receive_timeout_seconds: float = 5.0
    ldap_id_attributes: tuple[str, ...] = ("entryUUID", "objectGUID")

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def apps_dir(self) -> Path:
        """Where the sample project deploys its releases on localhost."""
        return self.data_dir / "apps"

    @property
    def broker_dir(self) -> Path:
        return self.data_dir / "broker"

    @property
    def is_embedded_broker(self) -> bool:
        return self.broker_url.startswith("filesystem://")


def load_settings() -> Settings:
    data_dir = Path(_env("DATA_DIR", str(Path.home() / ".playdeck"))).expanduser().resolve()
    web_host = _env("WEB_HOST", "127.0.0.1")
    web_port = _int("WEB_PORT", 8000)
    max_run_seconds = _int("MAX_RUN_SECONDS", 4 * 3600)
    return Settings(
        data_dir=data_dir,
        database_url=_env("DATABASE_URL", f"sqlite:///{data_dir / 'playdeck.db'}"),
        broker_url=_env("BROKER_URL", "filesystem://"),
        playbook_dir=Path(_env("PLAYBOOK_DIR", str(SOURCE_ROOT / "playbooks"))).resolve(),
        inventory_dir=Path(_env("INVENTORY_DIR", str(SOURCE_ROOT / "inventory"))).resolve(),
        web_host=web_host,
        web_port=web_port,
        web_active_requests=_int("WEB_ACTIVE_REQUESTS", 1),
        api_url=_env("URL", f"http://{web_host}:{web_port}").rstrip("/"),
        max_run_seconds=max_run_seconds,
        visibility_timeout=_int("VISIBILITY_TIMEOUT", max_run_seconds * 3),
        worker_concurrency=_int("WORKER_CONCURRENCY", 2),
        heartbeat_seconds=_float("HEARTBEAT_SECONDS", 5.0),
        silence_notice_seconds=_float("SILENCE_NOTICE_SECONDS", 60.0),
        event_flush_seconds=_float("EVENT_FLUSH_SECONDS", 0.1),
        event_batch_size=_int("EVENT_BATCH_SIZE", 1000),
        cancel_poll_seconds=_float("CANCEL_POLL_SECONDS", 0.25),
        control_poll_seconds=_float("CONTROL_POLL_SECONDS", 1.0),
        stop_grace_seconds=_float("STOP_GRACE_SECONDS", 3.0),
        reaper_interval_seconds=_float("REAPER_INTERVAL_SECONDS", 10.0),
        lost_after_seconds=_float("LOST_AFTER_SECONDS", 40.0),
        redispatch_after_seconds=_float("REDISPATCH_AFTER_SECONDS", 60.0),
        db_outage_patience_seconds=_float("DB_OUTAGE_PATIENCE_SECONDS", 300.0),
        partition_stop_seconds=_float("PARTITION_STOP_SECONDS", 0.75 * _float("LOST_AFTER_SECONDS", 40.0)),
        pool_recycle=_int("POOL_RECYCLE", 3600),
        artifact_retention_days=_int("ARTIFACT_RETENTION_DAYS", 30),
        run_retention_days=_int("RUN_RETENTION_DAYS", 0),
        dns_inventory=_env("DNS_INVENTORY", "dns/local.ini"),
        dns_zone_dir=Path(_env("DNS_ZONE_DIR", str(data_dir / "dns" / "zones"))).resolve(),
        dns_server=_env("DNS_SERVER", "127.0.0.1"),
        dns_port=_int("DNS_PORT", 53),
        dns_rndc_conf=_env("DNS_RNDC_CONF", ""),
        dns_regeneration_spacing_seconds=_float("DNS_REGENERATION_SPACING_SECONDS", 3.0),
        webhook_poll_seconds=_float("WEBHOOK_POLL_SECONDS", 1.0),
        webhook_timeout_seconds=_float("WEBHOOK_TIMEOUT_SECONDS", 5.0),
        webhook_retry_seconds=_float("WEBHOOK_RETRY_SECONDS", 10.0),
        webhook_max_attempts=_int("WEBHOOK_MAX_ATTEMPTS", 8),
        webhook_allowed_networks=_networks("WEBHOOK_ALLOWED_NETWORKS"),
        max_request_bytes=_int("MAX_REQUEST_BYTES", 1024 * 1024),
        secure_cookies=_env("SECURE_COOKIES", "0").lower() in ("1", "true", "yes"),
        trusted_proxies=_int("TRUSTED_PROXIES", 0),
        api_token=_env("TOKEN", ""),
        runs_per_page=_int("RUNS_PER_PAGE", 50),
        secret_key=_secret_from_file("SECRET_KEY"),
        secret_key_file=Path(_env("SECRET_KEY_FILE", "")).resolve() if _env("SECRET_KEY_FILE", "") else None,
        run_sandbox=_choice("RUN_SANDBOX", "auto", RUN_SANDBOXES),
        run_writable_paths=tuple(
            Path(path).resolve() for path in _env("RUN_WRITABLE_PATHS", "").split(os.pathsep) if path
        ),
        **_source_settings(),
        **_notification_settings(f"http://{web_host}:{web_port}"),
        **_schedule_settings(),
        **_login_settings(),
    )


def _source_settings() -> dict[str, Any]:
    """Git sources and the Galaxy requirements of their runs."""
    return dict(
        git_timeout_seconds=_float("GIT_TIMEOUT", 600.0),
        git_stall_seconds=_int("GIT_STALL_SECONDS", 60),
        git_max_mirror_mb=_int("GIT_MAX_MIRROR_MB", 2048),
        git_ca_file=Path(_env("GIT_CA_FILE", "")).resolve() if _env("GIT_CA_FILE", "") else None,
        galaxy_timeout_seconds=_float("GALAXY_TIMEOUT", 600.0),
        galaxy_server_timeout_seconds=_int("GALAXY_SERVER_TIMEOUT", 60),
        git_hook_user=_env("GIT_HOOK_USER", "git-hook"),
    )


def _notification_settings(default_url: str) -> dict[str, Any]:
    """Routed notifications: links, SMTP, "running longer than usual"."""
    return dict(
        base_url=_env("BASE_URL", _env("URL", default_url)).rstrip("/"),
        smtp_host=_env("SMTP_HOST", ""),
        smtp_port=_int("SMTP_PORT", 587),
        smtp_user=_env("SMTP_USER", ""),
        smtp_password=_env("SMTP_PASSWORD", ""),
        smtp_from=_env("SMTP_FROM", "playdeck@localhost"),
        smtp_starttls=_env("SMTP_STARTTLS", "1").lower() in ("1", "true", "yes"),
        smtp_timeout_seconds=_float("SMTP_TIMEOUT_SECONDS", 10.0),
        smtp_ca_file=Path(_env("SMTP_CA_FILE", "")).resolve() if _env("SMTP_CA_FILE", "") else None,
        running_long_factor=_float("RUNNING_LONG_FACTOR", 2.0),
        running_long_runs=_int("RUNNING_LONG_RUNS", 10),
    )


def _schedule_settings() -> dict[str, Any]:
    """What starts runs by itself: schedules and pipelines."""
    return dict(
        schedule_interval_seconds=_float("SCHEDULE_INTERVAL_SECONDS", 0.5),
        schedule_missed_after_seconds=_float("SCHEDULE_MISSED_AFTER_SECONDS", 120.0),
        schedule_clock_file=Path(_env("SCHEDULE_CLOCK_FILE", "")) if _env("SCHEDULE_CLOCK_FILE", "") else None,
        pipeline_interval_seconds=_float("PIPELINE_INTERVAL_SECONDS", 1.0),
    )


MAX_CLOCK_SKEW_SECONDS = 300
# An LDAP attribute's name (RFC 4512 descr; not an OID: the server answers with the name).
LDAP_ATTRIBUTE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,63}")


def _login_settings() -> dict[str, Any]:
    """How people log in besides local passwords: OpenID Connect, the company directory."""
    return _sso_settings() | _ldap_settings()


def _sso_settings() -> dict[str, Any]:
    """OpenID Connect, and whether password logins stay open."""
    skew = _int("OIDC_CLOCK_SKEW_SECONDS", 60)
    if not 0 <= skew <= MAX_CLOCK_SKEW_SECONDS:
        raise ValueError(f"PLAYDECK_OIDC_CLOCK_SKEW_SECONDS must be 0..{MAX_CLOCK_SKEW_SECONDS} (got {skew})")
    return dict(
        oidc_issuer=_env("OIDC_ISSUER", "").rstrip("/"),
        oidc_client_id=_env("OIDC_CLIENT_ID", ""),
        oidc_client_secret=_secret_from_file("OIDC_CLIENT_SECRET"),
        oidc_scopes=tuple(_env("OIDC_SCOPES", "openid profile email").replace(",", " ").split()),
        oidc_user_name_claim=_env("OIDC_USER_NAME_CLAIM", "preferred_username"),
        oidc_groups_claim=_env("OIDC_GROUPS_CLAIM", "groups"),
        oidc_display_name=_env("OIDC_DISPLAY_NAME", "single sign-on"),
        oidc_timeout_seconds=_float("OIDC_TIMEOUT_SECONDS", 5.0),
        oidc_clock_skew_seconds=skew,
        oidc_ca_file=Path(_env("OIDC_CA_FILE", "")).resolve() if _env("OIDC_CA_FILE", "") else None,
        local_logins=_env("LOCAL_LOGINS", "1").lower() in ("1", "true", "yes", "on"),
        break_glass_users=tuple(name.strip() for name in _env("BREAK_GLASS_USERS", "").split(",") if name.strip()),
    )


def _ldap_urls() -> tuple[str, ...]:
    """PLAYDECK_LDAP_URL: one or more (comma-separated, tried in order) ldaps:// or ldap:// URLs. Passwords never
    cross the network in clear: ldap:// only with StartTLS."""
    urls = tuple(url.strip() for url in _env("LDAP_URL", "").split(",") if url.strip())
    for url in urls:
        scheme = url.partition("://")[0].lower()
        if scheme not in ("ldap", "ldaps"):
            raise ValueError(f"PLAYDECK_LDAP_URL: {url!r} is not an ldaps:// or ldap:// URL")
        if scheme == "ldap" and not _flag("LDAP_STARTTLS", False):
            raise ValueError(f"PLAYDECK_LDAP_URL: {url!r} would send passwords in clear; use ldaps:// or StartTLS")
    user_filter = _env("LDAP_USER_FILTER", "(objectClass=person)")
    if not (user_filter.startswith("(") and user_filter.endswith(")")):
        raise ValueError(f"PLAYDECK_LDAP_USER_FILTER must be one filter in parentheses (got {user_filter!r})")
    if urls and not (_env("LDAP_BIND_DN", "") and _secret_from_file("LDAP_BIND_PASSWORD")):
        raise ValueError("PLAYDECK_LDAP_URL needs the service account: PLAYDECK_LDAP_BIND_DN and its password")
    return urls


def _ldap_id_attributes() -> tuple[str, ...]:
    """PLAYDECK_LDAP_ID_ATTRIBUTE: the entry's stable id attribute(s), comma-separated, the first an entry has
    wins. Names only: they go into search filters as they are."""
    names = tuple(name.strip() for name in _env("LDAP_ID_ATTRIBUTE", "entryUUID,objectGUID").split(",") if name.strip())
    for name in names:
        if not LDAP_ATTRIBUTE_NAME.fullmatch(name):
            raise ValueError(f"PLAYDECK_LDAP_ID_ATTRIBUTE: {name[:100]!r} is not an attribute name")
    return names


def _ldap_settings() -> dict[str, Any]:
    """Logging in with the company's directory (LDAP, Active Directory)."""
    active_directory = _flag("LDAP_ACTIVE_DIRECTORY", False)
    return dict(
        ldap_urls=_ldap_urls(),
        ldap_starttls=_flag("LDAP_STARTTLS", False),
        ldap_ca_file=_optional_path("LDAP_CA_FILE"),
        ldap_bind_dn=_env("LDAP_BIND_DN", ""),
        ldap_bind_password=_secret_from_file("LDAP_BIND_PASSWORD"),
        ldap_bind_password_file=_optional_path("LDAP_BIND_PASSWORD_FILE"),
        ldap_user_base=_env("LDAP_USER_BASE", ""),
        ldap_user_attribute=_env("LDAP_USER_ATTRIBUTE", "sAMAccountName" if active_directory else "uid"),
        ldap_user_filter=_env("LDAP_USER_FILTER", "(objectClass=person)"),
        ldap_group_base=_env("LDAP_GROUP_BASE", ""),
        ldap_nested_groups=_flag("LDAP_NESTED_GROUPS", False),
        ldap_active_directory=active_directory,
        ldap_nesting_depth=_int("LDAP_NESTING_DEPTH", 8),
        ldap_max_groups=_int("LDAP_MAX_GROUPS", 500),
        ldap_connect_timeout_seconds=_float("LDAP_CONNECT_TIMEOUT_SECONDS", 3.0),
        ldap_receive_timeout_seconds=_float("LDAP_RECEIVE_TIMEOUT_SECONDS", 5.0),
        ldap_id_attributes=_ldap_id_attributes(),
    )


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing the env."""
    return load_settings()
