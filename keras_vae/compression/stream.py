"""The byte format of a bits-back stream.

    magic  b"KVAEBB"            6 bytes
    format version              1 byte
    header length               4 bytes, little endian
    header                      UTF-8 JSON (model, backend, data, coder parameters)
    payload                     the ANS coder's 32-bit words, little endian
    sha256                      32 bytes, of everything before it

Any flipped or missing byte fails the checksum, which is tested before the
header is trusted; the header's own `data_sha256` then lets `decompress`
prove that what it decoded is what was encoded.
"""

import hashlib
import json
import struct

import numpy as np

MAGIC = b"KVAEBB"
VERSION = 1
_FIXED = len(MAGIC) + 1 + 4
_DIGEST = 32


class StreamError(ValueError):
    """A stream that cannot be decoded: corrupted, truncated, foreign or for another model."""


def pack(header, words):
    body = json.dumps(header, sort_keys=True).encode()
    payload = np.asarray(words, dtype="<u4").tobytes()
    data = MAGIC + bytes([VERSION]) + struct.pack("<I", len(body)) + body + payload
    return data + hashlib.sha256(data).digest()


def unpack(data):
    """`(header, words)` of a stream, or a `StreamError` saying what is wrong with it."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"Expected `data` to be bytes (a stream from `compress`). "
                        f"Received: {type(data).__name__}")
    data = bytes(data)
    if not data.startswith(MAGIC):
        raise StreamError("Not a keras_vae compressed stream: the magic bytes "
                          f"{MAGIC!r} are missing (the data starts with {data[:6]!r}).")
    if len(data) < _FIXED + _DIGEST:
        raise StreamError(f"The stream is truncated: {len(data)} bytes, fewer than the "
                          f"{_FIXED + _DIGEST} of an empty stream.")
    version = data[len(MAGIC)]
    intact = hashlib.sha256(data[:-_DIGEST]).digest() == data[-_DIGEST:]
    if version > VERSION:
        raise StreamError(f"The stream has format version {version}, newer than this reader's "
                          f"({VERSION}); upgrade keras_vae"
                          + ("." if intact else ", or the stream is corrupted."))
    if not intact:
        raise StreamError("The stream is corrupted or truncated: its sha256 checksum does not "
                          f"match its {len(data)} bytes.")
    (length,) = struct.unpack("<I", data[len(MAGIC) + 1:_FIXED])
    end = _FIXED + length
    payload = data[end:-_DIGEST]
    if end > len(data) - _DIGEST or len(payload) % 4:
        raise StreamError(f"The stream's header length ({length}) does not fit its size.")
    try:
        header = json.loads(data[_FIXED:end].decode())
    except (UnicodeDecodeError, ValueError) as e:
        raise StreamError(f"The stream's header is not valid JSON: {e}") from None
    return header, np.frombuffer(payload, dtype="<u4").astype(np.uint32)
