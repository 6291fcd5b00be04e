"""Seeds of the crl_import fuzz target (called by generate_seeds.sh): 4 choice octets (see
crl_import_fuzzer.cpp), then a CRL signed by a throwaway CA key that is never written anywhere: full
CRLs with every entry extension, a delta CRL with removeFromCRL, PEM, and the shapes the reader
refuses (v1, no number, indirect, unknown critical extension). Keys are random: a rerun changes them."""
import datetime
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
for old in out.iterdir():
    if not old.name.startswith(("regression_", "grown_")):
        old.unlink()

key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Seed CRL CA")])
t0 = datetime.datetime(2026, 6, 1, 12, 0, 0)


def entry(serial, reason=None, invalidity=None, hold=False, days=1):
    b = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(t0 - datetime.timedelta(days=days))
    if reason is not None:
        b = b.add_extension(x509.CRLReason(reason), critical=False)
    if invalidity is not None:
        b = b.add_extension(x509.InvalidityDate(invalidity), critical=False)
    if hold:
        b = b.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.23"),
                                                       bytes.fromhex("06072a8648ce380202")), critical=False)
    return b.build()


def crl(number=None, delta_base=None, entries=(), extra=(), next_days=7):
    b = (x509.CertificateRevocationListBuilder().issuer_name(name).last_update(t0)
         .next_update(t0 + datetime.timedelta(days=next_days)))
    if number is not None:
        b = b.add_extension(x509.CRLNumber(number), critical=False)
    if delta_base is not None:
        b = b.add_extension(x509.DeltaCRLIndicator(delta_base), critical=True)
    for ext, critical in extra:
        b = b.add_extension(ext, critical=critical)
    for e in entries:
        b = b.add_revoked_certificate(e)
    return b.sign(key, hashes.SHA256())


R = x509.ReasonFlags
full = crl(7, entries=[
    entry(0x1001, R.key_compromise, invalidity=t0 - datetime.timedelta(days=3)),
    entry(0x1002, R.certificate_hold, hold=True),
    entry(0x1003),
    entry(0x1004, R.superseded),
    entry(0x00FF00112233445566778899AABBCCDDEEFF0011, R.cessation_of_operation),
])
delta = crl(9, delta_base=7, entries=[entry(0x1002, R.remove_from_crl), entry(0x1005, R.key_compromise)])
seeds = {
    "full_none": (b"\x00\x11\x02\x01", full.public_bytes(serialization.Encoding.DER)),
    "full_after_previous": (b"\x01\x23\x04\x03", full.public_bytes(serialization.Encoding.DER)),
    "full_again": (b"\x02\x00\x00\x01", full.public_bytes(serialization.Encoding.DER)),
    "full_older": (b"\x03\x00\x00\x01", full.public_bytes(serialization.Encoding.DER)),
    "full_pem": (b"\x01\x5a\x03\x02", full.public_bytes(serialization.Encoding.PEM)),
    "delta_on_base": (b"\x01\x37\x02\x01", delta.public_bytes(serialization.Encoding.DER)),
    "delta_without_base": (b"\x04\x37\x02\x01", delta.public_bytes(serialization.Encoding.DER)),
    "empty_full": (b"\x01\x00\x05\x10", crl(2).public_bytes(serialization.Encoding.DER)),
    "no_number": (b"\x00\x00\x00\x00", crl(None, entries=[entry(5)]).public_bytes(serialization.Encoding.DER)),
    "indirect": (b"\x00\x00\x00\x00", crl(3, extra=[(x509.IssuingDistributionPoint(
        full_name=None, relative_name=None, only_contains_user_certs=False, only_contains_ca_certs=False,
        only_some_reasons=None, indirect_crl=True, only_contains_attribute_certs=False), True)]).public_bytes(
        serialization.Encoding.DER)),
    "unknown_critical": (b"\x00\x00\x00\x00", crl(4, extra=[(x509.UnrecognizedExtension(
        x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00"), True)]).public_bytes(serialization.Encoding.DER)),
    "truncated": (b"\x01\x00\x00\x00", full.public_bytes(serialization.Encoding.DER)[:-7]),
}
for seed_name, (choices, body) in seeds.items():
    (out / f"{seed_name}.bin").write_bytes(choices + body)
