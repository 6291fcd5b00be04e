#!/usr/bin/env python3
"""GET paths for many distinct serials, for a miss-heavy load: one OCSP request per serial, each the
kit's first request with its serial replaced (same issuer hashes, no nonce), written as the kit's .get
lines ("/" + percent-encoded base64).

usage: miss_requests.py KIT_LIST SERIALS_TXT COUNT > misses.get
  KIT_LIST     a kit request list (pki/reqs/ec/sha1-nononce.list: DER files relative to it)
  SERIALS_TXT  mkindex.py's serials file ("<hex> <V|R>" per line)
"""
import base64
import sys
import urllib.parse
from pathlib import Path


def read_tlv(der, at):
    """(tag, content start, content end) of the TLV at `at`."""
    tag, length = der[at], der[at + 1]
    at += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(der[at:at + n], "big")
        at += n
    return tag, at, at + length


def encode_tlv(tag, content):
    n = len(content)
    if n < 0x80:
        head = bytes([tag, n])
    else:
        size = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([tag, 0x80 | len(size)]) + size
    return head + content


def cert_id_prefix(request):
    """The CertID's algorithm and hashes (everything before its serialNumber), DER-encoded."""
    _, at, _ = read_tlv(request, 0)               # OCSPRequest
    _, at, end = read_tlv(request, at)            # tbsRequest
    while request[at] != 0x30:                    # skip [0] version, [1] requestorName
        at = read_tlv(request, at)[2]
    _, at, _ = read_tlv(request, at)              # requestList
    _, at, _ = read_tlv(request, at)              # Request
    _, at, _ = read_tlv(request, at)              # CertID
    start = at
    for _ in range(3):                            # hashAlgorithm, issuerNameHash, issuerKeyHash
        at = read_tlv(request, at)[2]
    return request[start:at]


def request_for(prefix, serial_hex):
    value = bytes.fromhex(serial_hex if len(serial_hex) % 2 == 0 else "0" + serial_hex)
    if value[0] & 0x80:
        value = b"\x00" + value
    cert_id = encode_tlv(0x30, prefix + encode_tlv(0x02, value))
    return encode_tlv(0x30, encode_tlv(0x30, encode_tlv(0x30, encode_tlv(0x30, cert_id))))


def main():
    kit_list, serials_file, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    first = (kit_list.parent / kit_list.read_text().split()[0]).read_bytes()
    prefix = cert_id_prefix(first)
    written = 0
    with open(serials_file) as serials:
        for line in serials:
            if written == count:
                break
            der = request_for(prefix, line.split()[0])
            sys.stdout.write("/" + urllib.parse.quote(base64.b64encode(der).decode(), safe="") + "\n")
            written += 1


if __name__ == "__main__":
    main()
