"""`ClientCertificate`: a base64 PKCS12 bundle, decoded once for azure-identity."""

from __future__ import annotations

import base64
import binascii

__all__ = ["ClientCertificate"]


class ClientCertificate:
    """A client certificate with its private key, given as base64-encoded PKCS12 (a ``.pfx``).

    It is decoded here, at construction: bad base64, a wrong password, data that is not PKCS12,
    a bundle without a certificate or without an RSA private key all raise `ValueError` now,
    not at the first token refresh. azure-identity's ``CertificateCredential`` then receives the
    PEM key and certificate (it does not accept base64).

    Its ``repr`` never shows the data or the password, only the certificate's subject and
    SHA-256 thumbprint. Needs the ``cryptography`` package (installed with the ``entra`` extra).
    """

    __slots__ = ("_pem", "subject", "thumbprint_sha256")

    def __init__(self, base64_pkcs12: str, password: str | None = None) -> None:
        try:
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import rsa
            from cryptography.hazmat.primitives.serialization import pkcs12
        except ImportError as exc:  # pragma: no cover - cryptography comes with azure-identity
            raise ImportError(
                "ClientCertificate needs the 'cryptography' package: "
                "pip install 'anyredis-auth[entra]'"
            ) from exc
        if not isinstance(base64_pkcs12, (str, bytes)):
            raise TypeError(
                f"base64_pkcs12 must be a str of base64 text, got {type(base64_pkcs12).__name__}"
            )
        if password is not None and not isinstance(password, str):
            raise TypeError(f"password must be a str or None, got {type(password).__name__}")
        text = (
            base64_pkcs12.encode("ascii", "replace")
            if isinstance(base64_pkcs12, str)
            else base64_pkcs12
        )
        try:
            blob = base64.b64decode(b"".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the client certificate is not valid base64 text") from None
        if not blob:
            raise ValueError("the client certificate is empty")
        try:
            key, cert, chain = pkcs12.load_key_and_certificates(
                blob, password.encode("utf-8") if password else None
            )
        except (ValueError, TypeError):
            # cryptography says "Invalid password or PKCS12 data": we cannot tell them apart.
            hint = "the password is wrong" if password else "it needs a password"
            raise ValueError(
                f"could not decode the client certificate: {hint}, or the data is not PKCS12"
            ) from None
        if cert is None:
            raise ValueError("the client certificate's PKCS12 bundle has no certificate")
        if key is None:
            raise ValueError("the client certificate's PKCS12 bundle has no private key")
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(
                "the client certificate's private key must be RSA (Entra ID signs with PS256), "
                f"got {type(key).__name__}"
            )
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        pem += cert.public_bytes(serialization.Encoding.PEM)
        for extra in chain or ():
            pem += extra.public_bytes(serialization.Encoding.PEM)
        self._pem = pem
        self.subject: str = cert.subject.rfc4514_string()
        self.thumbprint_sha256: str = cert.fingerprint(hashes.SHA256()).hex()

    def pem_bytes(self) -> bytes:
        """The unencrypted PEM private key followed by the certificate (and its chain)."""
        return self._pem

    def __repr__(self) -> str:
        return (
            f"ClientCertificate(subject={self.subject!r}, sha256={self.thumbprint_sha256[:16]}...)"
        )

    __str__ = __repr__

    def __reduce__(self) -> str:
        raise TypeError("ClientCertificate cannot be pickled (it holds a private key)")
