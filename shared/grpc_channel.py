"""gRPC between our processes: TLS settings and the one place channels and server credentials are made.

The edge, the CLI and the REST gateway open their channels to the control plane with
`secure_or_insecure_channel` / `secure_or_insecure_aio_channel`; the control plane gets its
listening credentials from `server_credentials`. Without TLS settings the channel is plaintext,
as before (loopback and private networks); with them the peer is verified against the given CA.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509

ChannelOptions = Sequence[tuple[str, Any]]

# The largest message between our processes, both ways: a bridged document's whole text travels
# in one (a Hocuspocus webhook), and every receiver of ours takes up to this much.
MAX_MESSAGE_BYTES = 16 << 20


class TlsFileError(OSError):
    """A certificate or key file named by the operator cannot be read."""


def _read(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TlsFileError(f"cannot read the {what} {path}: {exc.strerror}") from None
    if b"-----BEGIN" not in data:
        raise TlsFileError(f"the {what} {path} is not PEM")
    return data


@dataclass(frozen=True)
class TlsSettings:
    """How a client verifies the control plane (and, for mutual TLS, proves who it is)."""

    ca_file: Path | None = None  # CA bundle the control plane's certificate must chain to; None: plaintext
    client_cert_file: Path | None = None  # our certificate, for a control plane that requires one
    client_key_file: Path | None = None
    # The name the server certificate must carry when the address does not (e.g. a certificate
    # for control.internal reached as 127.0.0.1).
    server_name: str | None = None

    def __post_init__(self) -> None:
        if (self.client_cert_file is None) != (self.client_key_file is None):
            raise TlsFileError("a TLS client certificate needs its key, and a key its certificate")
        if self.ca_file is None and (self.client_cert_file is not None or self.server_name):
            raise TlsFileError("TLS client options need the CA bundle that verifies the control plane (--tls-ca)")

    @property
    def enabled(self) -> bool:
        return self.ca_file is not None

    def credentials(self) -> grpc.ChannelCredentials:
        assert self.ca_file is not None
        chain = key = None
        if self.client_cert_file is not None and self.client_key_file is not None:
            chain = _read(self.client_cert_file, "TLS client certificate")
            key = _read(self.client_key_file, "TLS client key")
        return grpc.ssl_channel_credentials(root_certificates=_read(self.ca_file, "TLS CA bundle"),
                                            private_key=key, certificate_chain=chain)

    def channel_options(self) -> list[tuple[str, Any]]:
        return [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []


PLAINTEXT = TlsSettings()


def secure_or_insecure_channel(address: str, tls: TlsSettings, options: ChannelOptions = ()) -> grpc.Channel:
    """A blocking channel to `address`: TLS when `tls` names a CA, else plaintext."""
    if tls.enabled:
        return grpc.secure_channel(address, tls.credentials(), options=[*options, *tls.channel_options()])
    return grpc.insecure_channel(address, options=list(options))


def secure_or_insecure_aio_channel(address: str, tls: TlsSettings, options: ChannelOptions = (),
                                   interceptors: Sequence[Any] = ()) -> grpc.aio.Channel:
    """As secure_or_insecure_channel, for grpc.aio (`interceptors`: client-side metrics and tracing)."""
    chosen = list(interceptors) or None
    if tls.enabled:
        return grpc.aio.secure_channel(address, tls.credentials(), options=[*options, *tls.channel_options()],
                                       interceptors=chosen)
    return grpc.aio.insecure_channel(address, options=list(options), interceptors=chosen)


@dataclass(frozen=True)
class ServerTlsSettings:
    """The control plane's certificate, and the CA its clients' certificates must chain to (mutual TLS)."""

    cert_file: Path | None = None  # None: plaintext
    key_file: Path | None = None
    client_ca_file: Path | None = None  # set: every client must present a certificate issued by it

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise TlsFileError("TLS needs both a certificate (--tls-cert) and its key (--tls-key)")
        if self.client_ca_file is not None and self.cert_file is None:
            raise TlsFileError("mutual TLS (--tls-client-ca) needs --tls-cert and --tls-key")

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None

    def credentials(self) -> grpc.ServerCredentials:
        assert self.cert_file is not None and self.key_file is not None
        pair = (_read(self.key_file, "TLS key"), _read(self.cert_file, "TLS certificate"))
        client_ca = _read(self.client_ca_file, "TLS client CA bundle") if self.client_ca_file else None
        return grpc.ssl_server_credentials([pair], root_certificates=client_ca,
                                           require_client_auth=client_ca is not None)


# One process per port: gRPC sets SO_REUSEPORT by default, which on Linux lets a second control
# plane bind the same port and silently take half of the connections.
SERVER_OPTIONS: list[tuple[str, Any]] = [("grpc.so_reuseport", 0)]


def add_port(server: grpc.aio.Server, host: str, port: int, tls: ServerTlsSettings) -> int:
    """Binds `server` to host:port (TLS or plaintext) and returns the port; OSError naming the address."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = (server.add_secure_port(address, tls.credentials()) if tls.enabled
                 else server.add_insecure_port(address))
    except RuntimeError:  # grpcio >= 1.58 raises instead of returning 0
        bound = 0
    if bound == 0:
        raise OSError(f"cannot listen on {host}:{port}: {bind_failure_reason(host, port)}")
    return bound


def bind_failure_reason(host: str, port: int) -> str:
    """Why host:port cannot be bound (gRPC says only that it failed): tried with a plain socket."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        return describe_bind_error(exc)
    return "the gRPC server could not bind it"


def describe_bind_error(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "address in use"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "no such local address"
    if exc.errno == errno.EACCES:
        return "permission denied"
    return exc.strerror or str(exc)


def loopback_client_tls(server: ServerTlsSettings, given: TlsSettings) -> TlsSettings:
    """How `serve`'s own edge and gateway reach its control plane at 127.0.0.1 over TLS.

    The CA defaults to the server certificate file itself (right for a self-signed certificate,
    or a file holding the chain up to its root); the expected name defaults to one the certificate
    carries when 127.0.0.1 is not among them; under mutual TLS the process presents its own server
    certificate unless a client certificate is given (it must then allow client authentication).
    """
    if not server.enabled:
        return PLAINTEXT
    assert server.cert_file is not None
    client_cert, client_key = given.client_cert_file, given.client_key_file
    if server.client_ca_file is not None and client_cert is None:
        client_cert, client_key = server.cert_file, server.key_file
    return TlsSettings(ca_file=given.ca_file or server.cert_file, client_cert_file=client_cert,
                       client_key_file=client_key,
                       server_name=given.server_name or _name_for_loopback(server.cert_file))


def _name_for_loopback(cert_file: Path) -> str | None:
    """None when the certificate is valid for 127.0.0.1; else its first DNS name to expect instead."""
    try:
        cert = x509.load_pem_x509_certificate(_read(cert_file, "TLS certificate"))
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return None  # gRPC reports the mismatch on connecting; --tls-server-name fixes it
    if ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress):
        return None
    dns = names.get_values_for_type(x509.DNSName)
    return dns[0] if dns else None


__all__ = ["PLAINTEXT", "SERVER_OPTIONS", "ServerTlsSettings", "TlsFileError", "TlsSettings", "add_port",
           "bind_failure_reason", "describe_bind_error", "loopback_client_tls", "secure_or_insecure_aio_channel",
           "secure_or_insecure_channel"]
