#!/usr/bin/env python3
"""Writes a realistic `openssl ca` index.txt for the import benchmark.

Every line form apps/ca.c writes appears: V, E and R rows; revocations with no reason, with each CRL
reason, with holdInstruction, keyTime and CAkeyTime arguments; UTCTime and (post-2049) GeneralizedTime
expiry dates; serials from 1 to 20 octets, most of them 16-20 random octets as public CAs issue them.
The output is deterministic for a given --seed.
"""
import argparse
import random
import sys

REASONS = [
    "", ",unspecified", ",keyCompromise", ",CACompromise", ",affiliationChanged", ",superseded",
    ",cessationOfOperation", ",certificateHold", ",removeFromCRL", ",holdInstruction,holdInstructionReject",
    ",holdInstruction,1.2.840.10040.2.2",
]


def utc(rng, first_year, last_year):
    year = rng.randint(first_year, last_year)
    stamp = "%02d%02d%02d%02d%02dZ" % (rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                                       rng.randint(0, 59), rng.randint(0, 59))
    # RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 on, as openssl ca writes them.
    return ("%02d" % (year % 100) if year < 2050 else "%04d" % year) + stamp


def serial(rng):
    octets = rng.choice((16, 16, 19, 20, 20, 8, 3, 1))
    value = rng.getrandbits(octets * 8 - 1) | (1 << (octets * 8 - 2))  # exactly `octets` octets, positive
    return "%0*X" % (octets * 2, value)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("output", nargs="?", default="-")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    out = sys.stdout if args.output == "-" else open(args.output, "w", buffering=1 << 20)
    seen = set()
    chunk = []
    for n in range(args.lines):
        s = serial(rng)
        while s in seen:  # openssl ca refuses duplicate serials; so does the index
            s = serial(rng)
        seen.add(s)
        kind = rng.random()
        subject = "/C=US/O=Example Corp/OU=Servers %d/CN=host%07d.example.com" % (n % 97, n)
        if kind < 0.78:
            line = "V\t%s\t\t%s\tunknown\t%s" % (utc(rng, 2026, 2028 if rng.random() < 0.99 else 2055), s, subject)
        elif kind < 0.86:
            line = "E\t%s\t\t%s\tunknown\t%s" % (utc(rng, 2019, 2025), s, subject)
        else:
            revoked = utc(rng, 2024, 2026)
            which = rng.random()
            if which < 0.08:
                extra = ",keyTime," + "20" + utc(rng, 2023, 2024)
            elif which < 0.1:
                extra = ",CAkeyTime," + "20" + utc(rng, 2023, 2024)
            else:
                extra = rng.choice(REASONS)
            line = "R\t%s\t%s%s\t%s\tunknown\t%s" % (utc(rng, 2026, 2028), revoked, extra, s, subject)
        chunk.append(line)
        if len(chunk) == 10000:
            out.write("\n".join(chunk) + "\n")
            chunk = []
    if chunk:
        out.write("\n".join(chunk) + "\n")
    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main()
