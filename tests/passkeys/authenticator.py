"""A software WebAuthn authenticator that really generates keys and signs.

It builds the same bytes a platform authenticator or security key would: authenticator
data (RP ID hash, flags, counter, attested credential data with a COSE key), an
attestation object ("none" or packed self-attestation), and assertions signed over
``authenticatorData || SHA-256(clientDataJSON)``. Everything it returns is in the JSON
form browsers produce with ``credential.toJSON()``. Knobs let tests break each part.
:class:`AttestationCA` issues a real attestation certificate for packed full attestation.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import struct
import uuid
from dataclasses import dataclass, field

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

ES256, EDDSA, RS256 = -7, -8, -257
FLAG_UP, FLAG_UV, FLAG_BE, FLAG_BS, FLAG_AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    credential_id: bytes
    private_key: object
    alg: int
    rp_id: str
    user_handle: bytes
    sign_count: int = 0
    backup_eligible: bool = False
    backup_state: bool = False

    def cose_public_key(self) -> bytes:
        public = self.private_key.public_key()
        if self.alg == ES256:
            numbers = public.public_numbers()
            return cbor2.dumps({1: 2, 3: ES256, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                                -3: numbers.y.to_bytes(32, "big")})
        if self.alg == RS256:
            numbers = public.public_numbers()
            return cbor2.dumps({1: 3, 3: RS256, -1: numbers.n.to_bytes(256, "big"),
                                -2: numbers.e.to_bytes(3, "big")})
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cbor2.dumps({1: 1, 3: EDDSA, -1: 6, -2: raw})

    def sign(self, data: bytes) -> bytes:
        if self.alg == ES256:
            return self.private_key.sign(data, ec.ECDSA(hashes.SHA256()))
        if self.alg == RS256:
            return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self.private_key.sign(data)


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Authenticators"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Authenticator Attestation"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


@dataclass
class AttestationCA:
    """A root CA and the attestation certificate it issued to an authenticator model."""

    root_key: object
    root_cert: x509.Certificate
    leaf_key: object
    leaf_cert: x509.Certificate

    @classmethod
    def create(cls) -> AttestationCA:
        start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
        end = start + datetime.timedelta(days=30)
        root_key = ec.generate_private_key(ec.SECP256R1())
        root = (x509.CertificateBuilder().subject_name(_name("Test Root CA"))
                .issuer_name(_name("Test Root CA")).public_key(root_key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(start)
                .not_valid_after(end)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(
                    digital_signature=True, key_cert_sign=True, crl_sign=True,
                    content_commitment=False, key_encipherment=False, data_encipherment=False,
                    key_agreement=False, encipher_only=False, decipher_only=False,
                ), critical=True)
                .sign(root_key, hashes.SHA256()))
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf = (x509.CertificateBuilder().subject_name(_name("Test Authenticator"))
                .issuer_name(root.subject).public_key(leaf_key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(start)
                .not_valid_after(end)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .sign(root_key, hashes.SHA256()))
        return cls(root_key, root, leaf_key, leaf)

    def root_pem(self) -> str:
        return self.root_cert.public_bytes(serialization.Encoding.PEM).decode()

    def statement(self, data: bytes) -> dict:
        """A packed attestation statement over ``data`` with the certificate chain."""
        signature = self.leaf_key.sign(data, ec.ECDSA(hashes.SHA256()))
        return {"alg": ES256, "sig": signature,
                "x5c": [self.leaf_cert.public_bytes(serialization.Encoding.DER)]}


@dataclass
class SoftAuthenticator:
    aaguid: uuid.UUID = field(default_factory=lambda: uuid.UUID(int=0))
    user_verification: bool = True
    user_presence: bool = True
    backup_eligible: bool = False
    backup_state: bool = False
    attestation_ca: AttestationCA | None = None
    credentials: dict[bytes, Credential] = field(default_factory=dict)

    # -- building blocks ------------------------------------------------------------

    @staticmethod
    def client_data(kind: str, challenge: str, origin: str, **extra) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
        data.update(extra)
        return json.dumps(data, separators=(",", ":")).encode()

    def _flags(self, credential: Credential | None, attested: bool) -> int:
        flags = 0
        if self.user_presence:
            flags |= FLAG_UP
        if self.user_verification:
            flags |= FLAG_UV
        be = credential.backup_eligible if credential else self.backup_eligible
        bs = credential.backup_state if credential else self.backup_state
        if be:
            flags |= FLAG_BE
        if bs:
            flags |= FLAG_BS
        if attested:
            flags |= FLAG_AT
        return flags

    def authenticator_data(self, credential: Credential, *, attested: bool,
                           rp_id: str | None = None) -> bytes:
        rp_hash = hashlib.sha256((rp_id or credential.rp_id).encode()).digest()
        data = rp_hash + bytes([self._flags(credential, attested)])
        data += struct.pack(">I", credential.sign_count)
        if attested:
            data += self.aaguid.bytes + struct.pack(">H", len(credential.credential_id))
            data += credential.credential_id + credential.cose_public_key()
        return data

    # -- ceremonies -----------------------------------------------------------------

    def create(self, options: dict, *, origin: str, alg: int | None = None,
               attestation: str = "none", rp_id: str | None = None,
               credential_id: bytes | None = None, client_extra: dict | None = None) -> dict:
        """navigator.credentials.create() for ``options`` (their JSON form).

        ``attestation``: "none", "packed" (self attestation) or "packed-full" (signed by
        ``attestation_ca``'s certificate).
        """
        algs = [p["alg"] for p in options["pubKeyCredParams"]]
        alg = alg if alg is not None else next(a for a in algs if a in (ES256, EDDSA))
        if alg == ES256:
            private = ec.generate_private_key(ec.SECP256R1())
        elif alg == RS256:
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            private = ed25519.Ed25519PrivateKey.generate()
        credential = Credential(
            credential_id=credential_id or os.urandom(32), private_key=private, alg=alg,
            rp_id=options["rp"]["id"], user_handle=unb64url(options["user"]["id"]),
            backup_eligible=self.backup_eligible, backup_state=self.backup_state,
        )
        client_data = self.client_data("webauthn.create", options["challenge"], origin,
                                       **(client_extra or {}))
        auth_data = self.authenticator_data(credential, attested=True, rp_id=rp_id)
        if attestation == "packed-full":
            statement = self.attestation_ca.statement(auth_data + hashlib.sha256(client_data).digest())
            att_obj = {"fmt": "packed", "attStmt": statement, "authData": auth_data}
        elif attestation == "packed":
            signature = credential.sign(auth_data + hashlib.sha256(client_data).digest())
            att_obj = {"fmt": "packed", "attStmt": {"alg": alg, "sig": signature},
                       "authData": auth_data}
        else:
            att_obj = {"fmt": "none", "attStmt": {}, "authData": auth_data}
        self.credentials[credential.credential_id] = credential
        return {
            "id": b64url(credential.credential_id), "rawId": b64url(credential.credential_id),
            "type": "public-key", "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(cbor2.dumps(att_obj)),
                "transports": ["internal"],
            },
        }

    def get(self, options: dict, *, origin: str, credential_id: bytes | None = None,
            rp_id: str | None = None, user_handle: bytes | None | bool = True,
            counter_step: int = 1, client_extra: dict | None = None,
            tamper_signature: bool = False, tamper_client_data: bool = False) -> dict:
        """navigator.credentials.get(): signs with the chosen (or first allowed) credential."""
        if credential_id is None:
            allowed = [unb64url(c["id"]) for c in options.get("allowCredentials") or []]
            candidates = [c for c in allowed if c in self.credentials] or list(self.credentials)
            credential_id = candidates[0]
        credential = self.credentials[credential_id]
        credential.sign_count += counter_step
        client_data = self.client_data("webauthn.get", options["challenge"], origin,
                                       **(client_extra or {}))
        auth_data = self.authenticator_data(credential, attested=False, rp_id=rp_id)
        signature = credential.sign(auth_data + hashlib.sha256(client_data).digest())
        if tamper_signature:
            signature = signature[:-1] + bytes([signature[-1] ^ 1])
        if tamper_client_data:
            client_data = client_data.replace(b'"crossOrigin":false', b'"crossOrigin":false ')
        if user_handle is True:
            handle = b64url(credential.user_handle)
        elif user_handle in (None, False):
            handle = None
        else:
            handle = b64url(user_handle)
        return {
            "id": b64url(credential_id), "rawId": b64url(credential_id), "type": "public-key",
            "clientExtensionResults": {}, "authenticatorAttachment": "platform",
            "response": {
                "clientDataJSON": b64url(client_data), "authenticatorData": b64url(auth_data),
                "signature": b64url(signature), "userHandle": handle,
            },
        }
