"""A real IMAP server for tests: Dovecot from Debian, configured in a temporary folder, on a free loopback port."""

from __future__ import annotations

import imaplib
import ipaddress
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

USER = "support@example.com"
PASSWORD = "imap-test-secret"


@dataclass
class Mailbox:
    url: str
    host: str
    port: int
    tls_url: str = ""
    # The self-signed certificate of the imaps:// listener (trust it with SSL_CERT_FILE).
    certificate: Path | None = None

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            status, answer = client.append(folder, None, None, raw)
            assert status == "OK", answer
        finally:
            client.logout()

    def flags(self, folder: str = "INBOX") -> list[tuple[str, bool]]:
        """(uid, seen) for every mail in the folder."""
        client = self.client()
        try:
            client.select(folder)
            _status, data = client.uid("FETCH", "1:*", "(FLAGS)")
            found = []
            for item in data:
                if isinstance(item, bytes) and b"UID" in item:
                    uid = item.split(b"UID ")[1].split(b" ")[0].split(b")")[0].decode()
                    found.append((uid, b"\\Seen" in item))
            return found
        finally:
            client.logout()

    def empty(self, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            client.select(folder)
            _status, data = client.uid("SEARCH", "ALL")
            if data and data[0]:
                client.uid("STORE", b",".join(data[0].split()).decode(), "+FLAGS", "(\\Deleted)")
                client.expunge()
        finally:
            client.logout()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made here (no network, no openssl binary)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "imap.crt", folder / "imap.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _identity() -> tuple[int, int, str, str]:
    """The mail owner and the login/internal users: ourselves, or Dovecot's own users when run as root."""
    if os.geteuid() != 0:
        name = pwd.getpwuid(os.geteuid()).pw_name
        return os.geteuid(), os.getegid(), name, name
    # Dovecot refuses root for login processes and mail access; the package creates these users.
    owner = pwd.getpwnam("dovecot")
    return owner.pw_uid, owner.pw_gid, "dovenull", "dovecot"


@contextmanager
def dovecot() -> Iterator[Mailbox]:
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(binary).exists():
        raise RuntimeError("Dovecot is not installed: apt-get install dovecot-imapd (the Makefile's TEST_DEBS)")
    # Outside pytest's tmp folder: that one is private to its owner, and the mail owner must reach the maildir.
    root = Path(tempfile.mkdtemp(prefix="crossclaim-imap-"))
    uid, gid, login_user, internal_user = _identity()
    (root / "run").mkdir()
    (root / "state").mkdir()
    (root / "mail").mkdir()
    os.chmod(root, 0o755)
    os.chown(root / "mail", uid, gid)
    (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    port, tls_port = _free_port(), _free_port()
    cert_path, key_path = _self_signed(root)
    config = root / "dovecot.conf"
    config.write_text(
        f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{cert_path}
ssl_key = <{key_path}
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:{root}/mail/%n
first_valid_uid = 1
first_valid_gid = 1
default_login_user = {login_user}
default_internal_user = {internal_user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%n
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""
    )
    process = subprocess.Popen([binary, "-F", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    user = USER.replace("@", "%40")
    box = Mailbox(
        url=f"imap://{user}:{PASSWORD}@127.0.0.1:{port}",
        host="127.0.0.1",
        port=port,
        tls_url=f"imaps://{user}:{PASSWORD}@127.0.0.1:{tls_port}",
        certificate=cert_path,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                box.client().logout()
                break
            except (OSError, imaplib.IMAP4.error):
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                    raise RuntimeError(f"Dovecot did not start: {log[-2000:]}") from None
                time.sleep(0.1)
        yield box
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)
