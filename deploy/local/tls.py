"""HTTPS for the local front end, so `secure: always` URLs can be followed locally as on App Engine.

Google's front end ends TLS before the app; locally the front end does, with a self-signed certificate
for localhost, *.localhost and 127.0.0.1, made once per app folder in `.local/tls/` (key mode 0600)
and made again when it is near its end or unreadable. Browsers warn about it once; curl needs `-k`.
Built with `cryptography` (requirements-dev.txt), imported only when the runner starts.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from pathlib import Path

VALID_DAYS = 365
RENEW_BEFORE = datetime.timedelta(days=7)


def _still_good(cert_file: Path, key_file: Path) -> bool:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key_file.stat()
    except (OSError, ValueError):
        return False
    return cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC) > RENEW_BEFORE


def _make(cert_file: Path, key_file: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "local App Engine (self-signed)")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.DNSName("*.localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file.parent.mkdir(parents=True, exist_ok=True)
    key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_bytes)
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def server_context(folder: Path) -> ssl.SSLContext:
    """A TLS server context with the folder's certificate (made first when missing or near its end)."""
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    if not _still_good(cert_file, key_file):
        _make(cert_file, key_file)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context
