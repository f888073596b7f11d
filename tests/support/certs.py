"""Certificates made in the test: a CA, a server certificate for 127.0.0.1/localhost, client certificates."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    ca: Path  # the CA certificate (PEM): the bundle clients and servers verify against
    server: CertFiles  # for 127.0.0.1 and localhost
    client: CertFiles  # issued by the same CA, for client authentication


class _Issuer:
    def __init__(self, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (x509.CertificateBuilder().subject_name(self.name).issuer_name(self.name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(minutes=5))
                     .not_valid_after(now + datetime.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                  content_commitment=False, key_encipherment=False,
                                                  data_encipherment=False, key_agreement=False,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .sign(self.key, hashes.SHA256()))

    def issue(self, folder: Path, stem: str, *, common_name: str, dns: tuple[str, ...] = (),
              ips: tuple[str, ...] = (), usage: x509.ObjectIdentifier) -> CertFiles:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
                   .issuer_name(self.name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        files = CertFiles(cert=folder / f"{stem}.crt", key=folder / f"{stem}.key")
        files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
        return files

    def write(self, path: Path) -> Path:
        path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return path


def make_pki(folder: Path, *, server_dns: tuple[str, ...] = ("localhost",),
             server_ips: tuple[str, ...] = ("127.0.0.1",)) -> Pki:
    """A fresh CA in `folder` with a server and a client certificate."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = _Issuer("wopi-proxy test CA")
    server = ca.issue(folder, "server", common_name="control", dns=server_dns, ips=server_ips,
                      usage=ExtendedKeyUsageOID.SERVER_AUTH)
    client = ca.issue(folder, "client", common_name="edge-1", usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    return Pki(ca=ca.write(folder / "ca.crt"), server=server, client=client)


def other_ca_client(folder: Path) -> CertFiles:
    """A client certificate from a CA the control plane does not trust."""
    folder.mkdir(parents=True, exist_ok=True)
    return _Issuer("someone else's CA").issue(folder, "stranger", common_name="stranger",
                                             usage=ExtendedKeyUsageOID.CLIENT_AUTH)
