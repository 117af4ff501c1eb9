"""A throwaway OpenLDAP ``slapd`` for directory login tests and the ``ldap`` benchmark: loopback, two high ports
(plain LDAP for StartTLS, LDAPS), TLS with a certificate of a CA the test makes, the ``memberof`` and ``refint``
overlays (a renamed or moved entry stays in its groups),
and a small directory of people and (nested) groups loaded with ``ldapadd``."""

from __future__ import annotations

import dataclasses
import shutil
import socket
import subprocess
from pathlib import Path

from playdeck.settings import Settings, load_settings
from testing.certificates import ca_signed
from testing.servers import ThrowawayServer

SUFFIX = "dc=example,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "root-secret"
SERVICE_DN = f"cn=playdeck,ou=services,{SUFFIX}"
SERVICE_PASSWORD = "service-secret"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
# name -> password; alice is a deployer, bob an SRE through a nested group, carol in no group.
USERS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}
# group -> (member users, member groups): bob is in oncall, which is in sre, which is in ops.
GROUP_MEMBERS = {
    "deployers": (("alice",), ()),
    "oncall": (("bob",), ()),
    "sre": ((), ("oncall",)),
    "ops": ((), ("sre",)),
}


def ldap_program(name: str) -> str:
    """slapd lives in /usr/sbin, which a non-root PATH may lack."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        raise RuntimeError(f"{name} not found: install slapd and ldap-utils (scripts/test does)")
    return found


def user_dn(name: str) -> str:
    return f"uid={name},{PEOPLE}"


def group_dn(name: str) -> str:
    return f"cn={name},{GROUPS}"


class ThrowawaySlapd(ThrowawayServer):
    """``slapd -d 0`` (foreground) on 127.0.0.1: ``port`` speaks plain LDAP (StartTLS), ``tls_port`` LDAPS.
    ``ca_file`` is the CA its certificate is signed with. Anonymous binds with a name and no password are
    *accepted* (``allow bind_anon_cred``), as some directories do: a client that sends one is let in as
    nobody, which is what the login must never do."""

    name = "slapd"

    def __init__(self, base: Path, port: int, tls_port: int) -> None:
        self.base = base
        self.port = port
        self.tls_port = tls_port
        self.conf = base / "slapd.conf"
        self.data = base / "data"
        self.log = base / "slapd.log"
        self.process: subprocess.Popen | None = None

    @property
    def ca_file(self) -> Path:
        return self.base / "ca.pem"

    @property
    def ldap_url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    def start(self) -> ThrowawaySlapd:
        self.data.mkdir(parents=True, exist_ok=True)
        if not self.ca_file.exists():
            ca_signed(self.base, "127.0.0.1")
        self.conf.write_text(self._slapd_conf())
        urls = f"{self.ldap_url}/ {self.ldaps_url}/"
        with open(self.log, "ab") as log:
            # -d 0: stay in the foreground (no fork), log nothing but errors.
            self.process = subprocess.Popen(
                [ldap_program("slapd"), "-d", "0", "-h", urls, "-f", str(self.conf)], stdout=log, stderr=log
            )
        self._wait_ready()
        return self

    def _slapd_conf(self) -> str:
        schemas = "".join(f"include /etc/ldap/schema/{name}.schema\n" for name in ("core", "cosine", "inetorgperson"))
        return f"""\
{schemas}
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload refint
pidfile {self.base}/slapd.pid
argsfile {self.base}/slapd.args
TLSCACertificateFile {self.base / "ca.pem"}
TLSCertificateFile {self.base / "server.pem"}
TLSCertificateKeyFile {self.base / "server.key"}
allow bind_anon_cred
sizelimit unlimited

database mdb
maxsize 104857600
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PASSWORD}
directory {self.data}
overlay memberof
memberof-refint TRUE
# Renames, moves and deletions update the groups naming the entry, as Active Directory does.
overlay refint
refint_attributes member
refint_nothing "{ROOT_DN}"
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact="{SERVICE_DN}" read by self read by * none
"""

    def env(self, **overrides: str) -> dict[str, str]:
        """PLAYDECK_LDAP_* for this directory over LDAPS with nested groups; ``overrides`` replace (or add)
        names without the prefix (``URL=...``)."""
        env = {
            "URL": self.ldaps_url, "CA_FILE": str(self.ca_file), "BIND_DN": SERVICE_DN,
            "BIND_PASSWORD": SERVICE_PASSWORD, "USER_BASE": PEOPLE, "GROUP_BASE": GROUPS, "NESTED_GROUPS": "1",
            "CONNECT_TIMEOUT_SECONDS": "2", "RECEIVE_TIMEOUT_SECONDS": "2",
        } | overrides  # fmt: skip
        return {f"PLAYDECK_LDAP_{name}": value for name, value in env.items()}

    def settings(self, **overrides: object) -> Settings:
        """The settings of this process with this directory (as ``env``), the environment untouched;
        ``overrides`` are Settings fields."""
        directory = dataclasses.replace(
            load_settings(), ldap_urls=(self.ldaps_url,), ldap_ca_file=self.ca_file, ldap_bind_dn=SERVICE_DN,
            ldap_bind_password=SERVICE_PASSWORD, ldap_user_base=PEOPLE, ldap_group_base=GROUPS,
            ldap_nested_groups=True, ldap_connect_timeout_seconds=2.0, ldap_receive_timeout_seconds=2.0,
        )  # fmt: skip
        return dataclasses.replace(directory, **overrides)

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def add(self, ldif: str) -> None:
        """Add entries (LDIF) as the directory's root, online, so the memberof overlay sees them."""
        self._as_root("ldapadd", ldif)

    def modify(self, ldif: str) -> None:
        """Change entries (LDIF with changetype: modify, delete, ...) as the directory's root."""
        self._as_root("ldapmodify", ldif)

    def _as_root(self, program: str, ldif: str) -> None:
        subprocess.run(
            [ldap_program(program), "-x", "-H", self.ldap_url, "-D", ROOT_DN, "-w", ROOT_PASSWORD],
            input=ldif, text=True, check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def load_sample(self) -> ThrowawaySlapd:
        """The suffix, the service account, ``USERS`` and ``GROUP_MEMBERS``."""
        entries = [
            f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example",
            *(
                f"dn: ou={unit},{SUFFIX}\nobjectClass: organizationalUnit\nou: {unit}"
                for unit in ("people", "groups", "services")
            ),  # fmt: skip
            f"dn: {SERVICE_DN}\nobjectClass: person\ncn: playdeck\nsn: service\nuserPassword: {SERVICE_PASSWORD}",
            *(person_entry(name, password) for name, password in USERS.items()),
        ]
        # Inner groups first: a groupOfNames member must exist for memberof to record it.
        for name in ("deployers", "oncall", "sre", "ops"):
            users, groups = GROUP_MEMBERS[name]
            entries.append(group_entry(name, [user_dn(u) for u in users] + [group_dn(g) for g in groups]))
        self.add("\n\n".join(entries) + "\n")
        return self


def person_entry(name: str, password: str) -> str:
    return (
        f"dn: {user_dn(name)}\nobjectClass: inetOrgPerson\nuid: {name}\ncn: {name.title()} Example\nsn: Example\n"
        f"displayName: {name.title()} Example\nmail: {name}@example.test\nuserPassword: {password}"
    )


def group_entry(name: str, members: list[str]) -> str:
    lines = [f"dn: {group_dn(name)}", "objectClass: groupOfNames", f"cn: {name}"]
    # groupOfNames needs at least one member.
    lines += [f"member: {member}" for member in members or [ROOT_DN]]
    return "\n".join(lines)
