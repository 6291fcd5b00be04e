"""Malformed input over raw sockets: every case gets the right OCSP or HTTP error, and the responder
stays alive and keeps answering good requests promptly."""
import hashlib
import socket
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import Index, Pki, Responder, make_request_der  # noqa: E402

MALFORMED = bytes.fromhex("30030a0101")
UNAUTHORIZED = bytes.fromhex("30030a0106")


def der(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def oid(dotted):
    parts = [int(p) for p in dotted.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        body += bytes(reversed(chunk))
    return der(0x06, body)


SHA1 = "1.3.14.3.2.26"
MD5 = "1.2.840.113549.2.5"
NONCE = "1.3.6.1.5.5.7.48.1.2"


def cert_id(ca, serial, alg=SHA1):
    name_hash = hashlib.sha1(ca.subject.public_bytes()).digest()
    spki = ca.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_hash = hashlib.sha1(subject_public_key_bits(spki)).digest()
    return der(0x30, der(0x30, oid(alg) + b"\x05\x00") + der(0x04, name_hash) + der(0x04, key_hash) +
               der(0x02, serial.to_bytes((serial.bit_length() + 8) // 8, "big")))


def subject_public_key_bits(spki):
    def read(buf, pos):
        tag = buf[pos]
        length = buf[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(buf[pos:pos + count], "big")
            pos += count
        return tag, pos, length
    _, pos, _ = read(spki, 0)              # SubjectPublicKeyInfo
    _, p2, l2 = read(spki, pos)            # AlgorithmIdentifier
    tag, p3, l3 = read(spki, p2 + l2)      # BIT STRING
    assert tag == 0x03
    return spki[p3 + 1:p3 + l3]


def ocsp_request(ids, nonce=None):
    reqs = der(0x30, b"".join(der(0x30, i) for i in ids))  # requestList: SEQUENCE OF Request
    if nonce is not None:
        ext = der(0x30, oid(NONCE) + der(0x04, der(0x04, nonce)))
        return der(0x30, der(0x30, reqs + der(0xA2, der(0x30, ext))))
    return der(0x30, der(0x30, reqs))


def http_post(body, port, headers=None, path="/"):
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ocsp-request\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n"
    for k, v in (headers or {}).items():
        head += f"{k}: {v}\r\n"
    return raw_exchange(head.encode() + b"\r\n" + body, port)


def raw_exchange(data, port, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except ConnectionResetError:
                break
            if not c:
                break
            chunks.append(c)
    return b"".join(chunks)


def split_response(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/") else None
    return status, head.decode("latin-1"), body


class MalformedBattery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ocspkit-bat-")
        root = Path(cls.tmp.name)
        cls.pki = Pki(root, "Battery CA")
        cls.leaf, _, cls.serial = cls.pki.issue("leaf.example")
        db = root / "index.db"
        cls.index = Index(db)
        cls.index.add_pki(cls.pki)
        cls.responder = Responder(root, db, [{"ca": str(cls.pki.ca_cert), "signer_key": str(cls.pki.ca_key)}],
                                  extra_server='request_timeout = "3s"\nidle_timeout = "3s"')
        cls.port = cls.responder.port
        cls.ca = x509.load_pem_x509_certificate(Path(cls.pki.ca_cert).read_bytes())
        cls.good_request = make_request_der(cls.pki.ca_cert, [cls.serial], workdir=cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.responder.close()
        cls.tmp.cleanup()

    def assert_still_answering(self, within=1.0):
        start = time.monotonic()
        status, _, body = split_response(http_post(self.good_request, self.port))
        self.assertTrue(self.responder.alive(), self.responder.log_text())
        self.assertEqual(status, 200)
        self.assertGreater(len(body), 100, body)  # a signed response, not a bare error status
        self.assertEqual(body[0], 0x30)
        self.assertLess(time.monotonic() - start, within)

    def expect_ocsp(self, body, expected, **kw):
        status, head, resp = split_response(http_post(body, self.port, **kw))
        self.assertEqual(status, 200, head)
        self.assertEqual(resp, expected)
        self.assert_still_answering()

    def test_empty_body(self):
        self.expect_ocsp(b"", MALFORMED)

    def test_garbage(self):
        self.expect_ocsp(b"this is not DER at all\x00\xff" * 10, MALFORMED)

    def test_truncated_der(self):
        self.expect_ocsp(self.good_request[:-3], MALFORMED)

    def test_over_long_der(self):
        self.expect_ocsp(self.good_request + b"\x00\x00trailing", MALFORMED)

    def test_absurd_nesting(self):
        self.expect_ocsp(b"\x30\x80" * 7000, MALFORMED)
        nested = b"\x05\x00"
        for _ in range(3000):
            nested = der(0x30, nested)
            if len(nested) > 15000:
                break
        self.expect_ocsp(nested, MALFORMED)

    def test_nonce_lengths(self):
        ids = [cert_id(self.ca, int(self.serial, 16))]
        self.expect_ocsp(ocsp_request(ids, nonce=b""), MALFORMED)
        self.expect_ocsp(ocsp_request(ids, nonce=b"\x01" * 129), MALFORMED)
        status, _, ok = split_response(http_post(ocsp_request(ids, nonce=b"\x01" * 128), self.port))
        self.assertEqual(status, 200)
        self.assertNotEqual(ok, MALFORMED)
        self.assertIn(b"\x01" * 128, ok)  # echoed

    def test_unknown_hash_oid(self):
        self.expect_ocsp(ocsp_request([cert_id(self.ca, int(self.serial, 16), alg=MD5)]), MALFORMED)

    def test_too_many_cert_ids(self):
        one = cert_id(self.ca, int(self.serial, 16))
        self.expect_ocsp(ocsp_request([one] * 65), MALFORMED)
        status, _, _ = split_response(http_post(ocsp_request([one] * 1000), self.port))
        self.assertEqual(status, 413)
        self.assert_still_answering()

    def test_sixty_four_cert_ids_answered(self):
        one = cert_id(self.ca, int(self.serial, 16))
        status, _, body = split_response(http_post(ocsp_request([one] * 64), self.port))
        self.assertEqual(status, 200)
        self.assertNotEqual(body, MALFORMED)

    def test_body_over_limit(self):
        status, _, _ = split_response(http_post(b"\x30" * 20000, self.port))
        self.assertEqual(status, 413)
        self.assert_still_answering()

    def test_wrong_content_length(self):
        # Announces more than it sends, then closes: the server must not wait forever or crash.
        req = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n" + self.good_request)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(req)
            s.shutdown(socket.SHUT_WR)
            s.recv(100)
        # Announces less than it sends: the rest is a second, invalid request.
        req = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n" + self.good_request)
        status, _, _ = split_response(raw_exchange(req, self.port))
        self.assertEqual(status, 200)
        self.assert_still_answering()

    def test_bad_base64_get(self):
        for path in ("/!!!!", "/%ZZ", "/AAAA%", "/" + "A" * 7):
            with self.subTest(path=path):
                status, _, body = split_response(raw_exchange(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(), self.port))
                self.assertEqual(status, 200)
                self.assertEqual(body, MALFORMED)
        self.assert_still_answering()

    def test_http09_and_garbage_request_lines(self):
        for line in (b"GET /\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 50, b"HELLO\r\n\r\n"):
            with self.subTest(line=line[:10]):
                raw = raw_exchange(line, self.port)
                status, _, _ = split_response(raw)
                self.assertIn(status, (400, None))
        self.assert_still_answering()

    def test_other_methods_get_405(self):
        for method in ("PUT", "DELETE", "OPTIONS", "PATCH"):
            status, head, _ = split_response(raw_exchange(f"{method} / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode(), self.port))
            self.assertEqual(status, 405, method)
            self.assertIn("Allow: GET, POST, HEAD", head)

    def test_slow_request_gets_408_and_idle_connection_is_closed(self):
        # request_timeout and idle_timeout are 3 s here; the server's sweep may add up to 0.1 s.
        with socket.create_connection(("127.0.0.1", self.port), timeout=8) as slow, \
                socket.create_connection(("127.0.0.1", self.port), timeout=8) as idle:
            slow.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
            start = time.monotonic()
            raw = b""
            while True:
                chunk = slow.recv(4096)
                if not chunk:
                    break
                raw += chunk
            self.assertEqual(split_response(raw)[0], 408, raw[:200])
            self.assertGreater(time.monotonic() - start, 2.5)
            self.assertEqual(idle.recv(10), b"")  # closed without a response
            self.assertLess(time.monotonic() - start, 6.0)
        self.assert_still_answering()

    def test_idle_and_slowloris_connections_do_not_block_good_requests(self):
        idle = [socket.create_connection(("127.0.0.1", self.port)) for _ in range(200)]
        slow = [socket.create_connection(("127.0.0.1", self.port)) for _ in range(200)]
        stop = threading.Event()

        def drip():
            while not stop.is_set():
                for s in slow:
                    try:
                        s.send(b"X")
                    except OSError:
                        pass
                stop.wait(0.3)
        for s in slow:
            s.send(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        t = threading.Thread(target=drip)
        t.start()
        try:
            for _ in range(5):
                self.assert_still_answering(within=1.0)
                time.sleep(0.2)
        finally:
            stop.set()
            t.join()
            for s in idle + slow:
                s.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
