#!/usr/bin/env python3
"""Seeds of the warm_start fuzz target (tests/fuzz/warm_start_fuzzer.cpp): warm-start files laid out as
responder/warm_start.hpp says. The target appends the SHA-256 itself, so most seeds are the body without
it ("body_*"); "file_*" seeds carry their checksum, as a file on disk does. Deterministic: no keys, the
DER fields are shapes only (the parser does not read inside them)."""
import hashlib
import struct
import sys
from pathlib import Path

MAGIC = b"OCSPKIT-WARM-START\n"


def status(state, revocation_time=None, reason=None, invalidity=None, extended=False, expired=False):
    flags = (1 if revocation_time is not None else 0) | (2 if reason is not None else 0) | \
        (4 if invalidity is not None else 0) | (8 if extended else 0) | (16 if expired else 0)
    return struct.pack("<BBqBq", state, flags, revocation_time or 0, reason or 0, invalidity or 0)


def entry(request, response, statuses, this_update=1_700_000_000, validity=86400):
    out = struct.pack("<I", len(request)) + request + struct.pack("<I", len(response)) + response
    out += hashlib.sha256(b"signer").digest()
    out += struct.pack("<qqq", this_update, this_update + validity, this_update + validity // 2)
    out += struct.pack("<H", len(statuses)) + b"".join(statuses)
    return out


def body(entries, version=1):
    return MAGIC + struct.pack("<II", version, len(entries)) + b"".join(entries)


def main(out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for f in out.glob("*"):
        if f.is_file() and not f.name.startswith(("regression_", "grown_")):
            f.unlink()
    request = bytes.fromhex("3042304030 3e303c3009 06052b0e03021a0500".replace(" ", "")) + bytes(20) + b"\x04\x14" + bytes(20) + b"\x02\x03\x01\x00\x01"
    response = b"\x30\x82\x01\x00" + bytes(256)
    good = status(0)
    revoked = status(1, revocation_time=1_600_000_000, reason=1, invalidity=1_599_000_000)
    hold = status(1, revocation_time=1_650_000_000, reason=6)
    extended = status(1, revocation_time=0, reason=6, extended=True, expired=True)
    seeds = {
        "body_empty": body([]),
        "body_one_good": body([entry(request, response, [good])]),
        "body_mixed": body([entry(request, response, [good, revoked, hold]), entry(b"\x30\x00", b"\x30\x03\x0a\x01\x00",
                                                                               [extended])]),
        "body_bad_version": body([entry(request, response, [good])], version=2),
        "body_bad_state": body([entry(request, response, [struct.pack("<BBqBq", 5, 0, 0, 0, 0)])]),
        "body_bad_reason": body([entry(request, response, [status(1, 1, reason=7)])]),
        "body_no_statuses": body([entry(request, response, [])]),
        "body_same_times": body([entry(request, response, [good], validity=0)]),
        "body_truncated": body([entry(request, response, [good])])[:-5],
    }
    for name in ("body_one_good", "body_mixed"):
        seeds["file_" + name[5:]] = seeds[name] + hashlib.sha256(seeds[name]).digest()
    for name, data in seeds.items():
        (out / name).write_bytes(data)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent / "warm_start")
