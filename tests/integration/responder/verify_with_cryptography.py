"""Decodes an OCSP response with Python `cryptography`, checks its fields and verifies its signature.
Usage: verify_with_cryptography.py RESPONSE.der CA.pem CERT.pem EXPECTED_STATUS HASH"""
import sys
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509 import ocsp


def verify(public_key, signature, data, hash_algorithm):
    if isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(signature, data, padding.PKCS1v15(), hash_algorithm)
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, data, ec.ECDSA(hash_algorithm))
    elif isinstance(public_key, ed25519.Ed25519PublicKey):
        public_key.verify(signature, data)
    else:
        raise SystemExit(f"unsupported key {type(public_key)}")


def main():
    der_file, ca_file, cert_file, expected, hash_name = sys.argv[1:6]
    resp = ocsp.load_der_ocsp_response(open(der_file, "rb").read())
    ca = x509.load_pem_x509_certificate(open(ca_file, "rb").read())
    cert = x509.load_pem_x509_certificate(open(cert_file, "rb").read())
    assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL, resp.response_status
    assert resp.serial_number == cert.serial_number, (resp.serial_number, cert.serial_number)
    assert resp.hash_algorithm.name == hash_name, resp.hash_algorithm.name
    assert resp.certificate_status.name.lower() == expected, resp.certificate_status
    assert resp.this_update <= datetime.utcnow() < resp.next_update, (resp.this_update, resp.next_update)
    if expected == "revoked":
        assert resp.revocation_time is not None
    signer = ca
    for c in resp.certificates:  # a delegated signer, issued by the CA
        verify(ca.public_key(), c.signature, c.tbs_certificate_bytes, c.signature_hash_algorithm)
        signer = c
    verify(signer.public_key(), resp.signature, resp.tbs_response_bytes, resp.signature_hash_algorithm)
    print("verified", resp.certificate_status.name, resp.hash_algorithm.name)


if __name__ == "__main__":
    main()
