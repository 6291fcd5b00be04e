#!/usr/bin/env python3
"""Checks an OCSP response with an independent implementation: pyca/cryptography's x509.ocsp.

Called by the responder unit tests (external_verify_test.cpp). Exit status 0 when every check holds,
1 when one fails (the reason goes to stderr), 2 on bad usage. Works with cryptography 38 (Debian 12)
and later.

  check_with_cryptography.py RESPONSE.der SIGNER.pem
      [--expect SERIALHEX=good|unknown|revoked[:reasonName]]...   in response order
      [--hash sha1|sha256|sha384|sha512]      hash algorithm of every CertID
      [--responder-id key|name]               ResponderID form, checked against SIGNER.pem
      [--certs N]                             number of certificates carried in the response
      [--nonce HEX]                           nonce extension value (the inner OCTET STRING contents)
      [--extended-revoke]                     RFC 6960 §4.4.8 extension must be present
"""
import argparse
import sys
import warnings

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ObjectIdentifier, SignatureAlgorithmOID

EXTENDED_REVOKE = ObjectIdentifier("1.3.6.1.5.5.7.48.1.9")

# Newer versions deprecate attributes that 38 still needs; the checks do not depend on that.
warnings.simplefilter("ignore")


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def verify_signature(resp, signer_cert):
    """Verifies the signature over tbsResponseData with the signer certificate's public key."""
    key = signer_cert.public_key()
    sig, data = resp.signature, resp.tbs_response_bytes
    oid = resp.signature_algorithm_oid
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if oid == SignatureAlgorithmOID.RSASSA_PSS:
                # Our signer uses a salt as long as the digest (RFC 4055 §3.1) with MGF1 of the same hash.
                h = hashes.SHA256()
                key.verify(sig, data, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
            else:
                key.verify(sig, data, padding.PKCS1v15(), resp.signature_hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, data, ec.ECDSA(resp.signature_hash_algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey):
            check(oid == SignatureAlgorithmOID.ED25519, f"Ed25519 key but signature algorithm {oid.dotted_string}")
            key.verify(sig, data)
        else:
            raise CheckFailed(f"unexpected key type {type(key).__name__}")
    except InvalidSignature:
        raise CheckFailed(f"signature ({oid.dotted_string}) does not verify with {signer_cert.subject.rfc4514_string()}")


def single_responses(resp):
    # `responses` (cryptography >= 37) iterates every SingleResponse.
    return list(resp.responses)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("response")
    parser.add_argument("signer")
    parser.add_argument("--expect", action="append", default=[])
    parser.add_argument("--hash")
    parser.add_argument("--responder-id", choices=["key", "name"])
    parser.add_argument("--certs", type=int)
    parser.add_argument("--nonce")
    parser.add_argument("--extended-revoke", action="store_true")
    args = parser.parse_args()

    with open(args.response, "rb") as f:
        resp = ocsp.load_der_ocsp_response(f.read())
    with open(args.signer, "rb") as f:
        signer_cert = x509.load_pem_x509_certificate(f.read())

    check(resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL, f"status {resp.response_status}")
    verify_signature(resp, signer_cert)

    singles = single_responses(resp)
    if args.expect:
        check(len(singles) == len(args.expect), f"{len(singles)} SingleResponses, expected {len(args.expect)}")
    for single, want in zip(singles, args.expect):
        serial_hex, _, status = want.partition("=")
        status, _, reason = status.partition(":")
        check(single.serial_number == int(serial_hex, 16),
              f"serial {single.serial_number:X}, expected {serial_hex}")
        got = single.certificate_status.name.lower()
        check(got == status, f"serial {serial_hex}: {got}, expected {status}")
        if status == "revoked":
            got_reason = single.revocation_reason.value if single.revocation_reason is not None else ""
            check(got_reason == reason, f"serial {serial_hex}: reason '{got_reason}', expected '{reason}'")
        if args.hash:
            check(single.hash_algorithm.name == args.hash,
                  f"serial {serial_hex}: CertID hash {single.hash_algorithm.name}, expected {args.hash}")

    if args.responder_id == "key":
        want = x509.SubjectKeyIdentifier.from_public_key(signer_cert.public_key()).digest
        check(resp.responder_key_hash == want, "ResponderID byKey is not the signer's key hash")
        check(resp.responder_name is None, "ResponderID has a name as well")
    elif args.responder_id == "name":
        check(resp.responder_name == signer_cert.subject, f"ResponderID byName is {resp.responder_name}")

    if args.certs is not None:
        check(len(resp.certificates) == args.certs, f"{len(resp.certificates)} certificates, expected {args.certs}")
        if args.certs:
            der = signer_cert.public_bytes(serialization.Encoding.DER)
            check(any(c.public_bytes(serialization.Encoding.DER) == der for c in resp.certificates),
                  "the signer certificate is not among the response's certificates")

    if args.nonce is not None:
        nonce = resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        check(nonce == bytes.fromhex(args.nonce), f"nonce {nonce.hex()}, expected {args.nonce}")

    if args.extended_revoke:
        ext = resp.extensions.get_extension_for_oid(EXTENDED_REVOKE)
        check(not ext.critical, "extended-revoke marked critical")

    print(f"ok: {len(singles)} SingleResponse(s), signature {resp.signature_algorithm_oid.dotted_string}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (CheckFailed, x509.ExtensionNotFound, ValueError) as e:
        print(f"check failed: {e}", file=sys.stderr)
        sys.exit(1)
