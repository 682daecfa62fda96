"""The cryptographic primitives of docs/e2ee.md, over raw bytes.

This is the only module of the project that imports ``cryptography``
(DESIGN.md section 9): everything above it handles keys as plain 32-byte
values, so test vectors can fix them and the browser's WebCrypto can be
checked against the same bytes. Every failure of a primitive (a tag that does
not verify, a low-order X25519 point) surfaces as ``CryptoFailure``, which the
layers above turn into their own rejections.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
SIGNATURE_BYTES = 64
NONCE_BYTES = 12
TAG_BYTES = 16
HKDF_SALT = bytes(32)


class CryptoFailure(Exception):
    """A primitive refused its input: a tag, a signature or a point is wrong."""


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hmac_sha256(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def hkdf(ikm: bytes, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 with the spec's fixed salt of 32 zero bytes."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=HKDF_SALT, info=info).derive(ikm)


# ---- X25519 --------------------------------------------------------------------


def x25519_public(private: bytes) -> bytes:
    _check_key(private)
    return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()


def x25519(private: bytes, public: bytes) -> bytes:
    """The shared secret; an all-zero result (a low-order point) is refused, as WebCrypto does."""
    _check_key(private)
    _check_key(public)
    try:
        shared = X25519PrivateKey.from_private_bytes(private).exchange(
            X25519PublicKey.from_public_bytes(public)
        )
    except ValueError:
        raise CryptoFailure("X25519 refused the peer's public key") from None
    if not any(shared):
        raise CryptoFailure("X25519 gave the all-zero secret")
    return shared


# ---- Ed25519 -------------------------------------------------------------------


def ed25519_public(seed: bytes) -> bytes:
    _check_key(seed)
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def ed25519_sign(seed: bytes, msg: bytes) -> bytes:
    _check_key(seed)
    return Ed25519PrivateKey.from_private_bytes(seed).sign(msg)


def ed25519_verify(public: bytes, signature: bytes, msg: bytes) -> bool:
    if len(public) != KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, msg)
    except (InvalidSignature, ValueError):
        return False
    return True


# ---- AES-256-GCM ---------------------------------------------------------------


def aes_gcm_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Ciphertext with the 16-byte tag appended."""
    _check_key(key)
    _check_nonce(nonce)
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def aes_gcm_open(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    _check_key(key)
    _check_nonce(nonce)
    if len(sealed) < TAG_BYTES:
        raise CryptoFailure("AES-GCM ciphertext shorter than its tag")
    try:
        return AESGCM(key).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise CryptoFailure("AES-GCM tag does not verify") from None


def _check_key(key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise CryptoFailure(f"a key is {KEY_BYTES} bytes, not {len(key)}")


def _check_nonce(nonce: bytes) -> None:
    if len(nonce) != NONCE_BYTES:
        raise CryptoFailure(f"a nonce is {NONCE_BYTES} bytes, not {len(nonce)}")
