"""Read members of a zip archive, including Zstandard-compressed ones (method 93).

Python 3.11's :mod:`zipfile` parses the central directory of such archives but refuses
to open their members; Inspect AI writes ``.eval`` logs this way. We take the member's
offsets from :mod:`zipfile`, read the raw bytes after its local header ourselves and
decompress them with ``zstandard``, bounding the decompressed size and checking the CRC.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from typing import BinaryIO

import zstandard

from ..errors import PausepactError

ZIP_ZSTANDARD = 93
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_LOCAL_MAGIC = b"PK\x03\x04"


class ZipMemberError(PausepactError):
    pass


def read_member(zf: zipfile.ZipFile, fp: BinaryIO, info: zipfile.ZipInfo, limit: int) -> bytes:
    """The decompressed bytes of ``info``; at most ``limit`` bytes or ZipMemberError."""
    if info.file_size > limit:
        raise ZipMemberError(f"member {info.filename} is larger than {limit >> 20} MiB")
    if info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        with zf.open(info) as member:
            data = member.read(limit + 1)
        if len(data) > limit:
            raise ZipMemberError(f"member {info.filename} is larger than {limit >> 20} MiB")
        return data
    if info.compress_type != ZIP_ZSTANDARD:
        raise ZipMemberError(
            f"member {info.filename} uses compression method {info.compress_type}; "
            "only stored, deflate and zstd are supported"
        )
    fp.seek(info.header_offset)
    header = fp.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size:
        raise ZipMemberError(f"member {info.filename}: truncated local header")
    fields = _LOCAL_HEADER.unpack(header)
    if fields[0] != _LOCAL_MAGIC:
        raise ZipMemberError(f"member {info.filename}: bad local header signature")
    name_len, extra_len = fields[-2], fields[-1]
    fp.seek(info.header_offset + _LOCAL_HEADER.size + name_len + extra_len)
    if info.compress_size > limit:
        raise ZipMemberError(f"member {info.filename}: compressed size over the limit")
    raw = fp.read(info.compress_size)
    if len(raw) != info.compress_size:
        raise ZipMemberError(f"member {info.filename}: truncated data")
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(raw)
        data = reader.read(limit + 1)
    except zstandard.ZstdError as exc:
        raise ZipMemberError(f"member {info.filename}: bad zstd data ({exc})") from None
    if len(data) > limit:
        raise ZipMemberError(f"member {info.filename} is larger than {limit >> 20} MiB")
    if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
        raise ZipMemberError(f"member {info.filename}: size or CRC mismatch")
    return data
