#!/usr/bin/env python3
"""Checks that each file named is a whole, valid PNG image.

A PNG is valid here when it has the 8-byte signature, every chunk's CRC matches, the first chunk
is an IHDR with a non-zero width and height, the image data (IDAT chunks, concatenated) inflates
to exactly the size the header implies, and the file ends with IEND. Prints one line per file,
"ok FILE WIDTHxHEIGHT" or "bad FILE: why"; exits 1 if any file is bad.
"""
import struct
import sys
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Samples per pixel by colour type (PNG spec, table 11.1).
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def check(path):
    data = open(path, "rb").read()
    if not data.startswith(SIGNATURE):
        return "no PNG signature"
    pos, chunks = len(SIGNATURE), []
    while pos < len(data):
        if pos + 12 > len(data):
            return f"truncated chunk header at byte {pos}"
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            return f"chunk {kind!r} truncated"
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            return f"chunk {kind!r} has a wrong CRC"
        chunks.append((kind, body))
        pos += 12 + length
        if kind == b"IEND":
            break
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        return "first chunk is not IHDR"
    if chunks[-1][0] != b"IEND" or pos != len(data):
        return "does not end with IEND"
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if width == 0 or height == 0 or colour not in CHANNELS:
        return f"bad header: {width}x{height}, colour type {colour}"
    try:
        raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    except zlib.error as e:
        return f"image data does not inflate: {e}"
    if interlace == 0:
        row = 1 + (width * CHANNELS[colour] * depth + 7) // 8
        if len(raw) != row * height:
            return f"image data is {len(raw)} bytes, the header implies {row * height}"
    return None, f"{width}x{height}"


def main(paths):
    bad = 0
    for path in paths:
        try:
            result = check(path)
        except OSError as e:
            result = str(e)
        if isinstance(result, tuple):
            print(f"ok {path} {result[1]}")
        else:
            print(f"bad {path}: {result}")
            bad += 1
    return 1 if bad or not paths else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
