"""An independent implementation of docs/crypto.md, written from the document, not from the
TypeScript code. tests/crypto/vectors_test.ts runs it to show that escale and the document agree.

Usage (all bytes in and out are files; secrets are read from a file, never from argv):
  reference_impl.py keys PARAMS.json SECRET_FILE            -> prints the content key (hex)
  reference_impl.py open PARAMS.json SECRET_FILE KEY IN OUT -> writes the plaintext of IN to OUT
  reference_impl.py seal PARAMS.json SECRET_FILE KEY IN OUT [HEADER_HEX]
  reference_impl.py vectors                                 -> prints the docs/crypto.md §7 vectors
Exit status 3 means "failed authentication", 4 "wrong key".
"""
import base64
import hashlib
import hmac
import json
import os
import struct
import sys
import unicodedata

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.exceptions import InvalidTag

TAG = 16
HEADER = 24


class AuthError(Exception):
    pass


def b64u_decode(s):
    raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != s:
        raise ValueError("non-canonical base64url")
    return raw


def b64u_encode(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def hkdf(ikm, salt, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info.encode()).derive(ikm)


def secret_from_file(path):
    raw = open(path, "rb").read().rstrip(b"\r\n")
    try:
        return unicodedata.normalize("NFC", raw.decode("utf-8")).encode("utf-8")
    except UnicodeDecodeError:
        return raw


def check_text(p):
    k = p["kdf"]
    lines = [
        "escale key check v1",
        f"version={p['version']}",
        f"kdf={k['algorithm']}",
        f"argon2-version={k['version']}",
        f"memory-kib={k['memoryKiB']}",
        f"iterations={k['iterations']}",
        f"parallelism={k['parallelism']}",
        f"salt={k['salt']}",
        f"cipher={p['cipher']}",
        f"segment-size={p['segmentSize']}",
    ]
    return ("\n".join(lines) + "\n").encode()


def derive(p, secret):
    """Returns (content key, key-check MAC) for the parameters and secret."""
    k = p["kdf"]
    master = Argon2id(
        salt=b64u_decode(k["salt"]),
        length=32,
        iterations=k["iterations"],
        lanes=k["parallelism"],
        memory_cost=k["memoryKiB"],
    ).derive(secret)
    content = hkdf(master, None, "escale v1 content")
    check_key = hkdf(master, None, "escale v1 key check")
    return content, hmac.new(check_key, check_text(p), hashlib.sha256).digest()


def content_key(p, secret):
    content, check = derive(p, secret)
    if not hmac.compare_digest(check, b64u_decode(p["check"])):
        raise PermissionError("wrong passphrase or key for this relay")
    return content


def nonce_aad(header, key, i, final):
    f = b"\x01" if final else b"\x00"
    nonce = header[17:24] + struct.pack(">I", i) + f
    aad = b"\x01" + f + struct.pack(">I", i) + key.encode("utf-8")
    return nonce, aad


def seal(content, seg, key, plain, header):
    aead = ChaCha20Poly1305(hkdf(content, header[1:17], "escale v1 object"))
    out = [header]
    n = len(plain) // seg
    for i in range(n + 1):
        part = plain[i * seg:(i + 1) * seg] if i < n else plain[n * seg:]
        nonce, aad = nonce_aad(header, key, i, i == n)
        out.append(aead.encrypt(nonce, part, aad))
    return b"".join(out)


def open_object(content, seg, key, data):
    if len(data) < HEADER or data[0] != 1:
        raise AuthError()
    header = data[:HEADER]
    aead = ChaCha20Poly1305(hkdf(content, header[1:17], "escale v1 object"))
    body = data[HEADER:]
    out = []
    i = 0
    pos = 0
    while True:
        rest = len(body) - pos
        # A full-size sealed segment is never final; a shorter one always is (and must be last).
        if rest >= seg + TAG:
            final = False
            part = body[pos:pos + seg + TAG]
        else:
            final = True
            part = body[pos:]
        if final and len(part) < TAG:
            raise AuthError()
        nonce, aad = nonce_aad(header, key, i, final)
        try:
            out.append(aead.decrypt(nonce, part, aad))
        except InvalidTag:
            raise AuthError()
        pos += len(part)
        i += 1
        if final:
            return b"".join(out)


def vectors():
    params = {
        "version": 1,
        "kdf": {
            "algorithm": "argon2id",
            "version": 19,
            "memoryKiB": 8192,
            "iterations": 1,
            "parallelism": 1,
            "salt": b64u_encode(bytes(range(16))),
        },
        "cipher": "chacha20-poly1305",
        "segmentSize": 1024,
        "check": "",
    }
    content, check = derive(params, b"escale test vector")
    params["check"] = b64u_encode(check)
    header = bytes([1]) + bytes(range(0x10, 0x20)) + bytes(range(0x20, 0x27))
    plain = bytes(i % 251 for i in range(2100))
    sealed = seal(content, 1024, "data/ab12", plain, header)
    assert open_object(content, 1024, "data/ab12", sealed) == plain
    print(json.dumps({
        "params": params,
        "content": content.hex(),
        "sealedSize": len(sealed),
        "sealedSha256": hashlib.sha256(sealed).hexdigest(),
    }))


def main(argv):
    if argv[1] == "vectors":
        return vectors()
    params = json.load(open(argv[2]))
    try:
        content = content_key(params, secret_from_file(argv[3]))
    except PermissionError:
        return 4
    seg = params["segmentSize"]
    if argv[1] == "keys":
        print(content.hex())
    elif argv[1] == "open":
        try:
            plain = open_object(content, seg, argv[4], open(argv[5], "rb").read())
        except AuthError:
            return 3
        open(argv[6], "wb").write(plain)
    elif argv[1] == "seal":
        header = bytes.fromhex(argv[7]) if len(argv) > 7 else b"\x01" + os.urandom(23)
        open(argv[6], "wb").write(seal(content, seg, argv[4], open(argv[5], "rb").read(), header))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
