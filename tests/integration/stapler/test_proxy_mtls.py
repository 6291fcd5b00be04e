"""Mutual TLS through the OCSP caching proxy, as issue 12 sets it up: Apache httpd (`SSLVerifyClient
require`, `SSLOCSPEnable leaf`, `SSLOCSPDefaultResponder` the proxy, `SSLOCSPOverrideResponder on`,
`SSLOCSPUseRequestNonce off`) and nginx (`ssl_verify_client on`, `ssl_ocsp on`, `ssl_ocsp_responder` the
proxy) ask ocsp-stapler's [proxy], which asks ocsp-responder. curl with a client certificate:

  * a good client gets the page; revoked with ocspctl, it is refused once the proxy refreshed;
  * the responder stops: a client seen before is still let in, a revoked one still refused, one never
    seen is refused (the servers fail closed on tryLater);
  * the stapler restarts with the responder still down: the same answers, from its state folder.
"""
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib"))
from ocspkit_testlib import free_port, responder_issuer  # noqa: E402
from stapler_testlib import StaplerFixtures, metric_value  # noqa: E402
from tls_servers import PAGE_BODY, Apache, Nginx, curl, have_apache, have_nginx  # noqa: E402

CLIENTS = ["good", "revoked-later", "revoked-before", "never-seen"]


class _ProxyMutualTls(StaplerFixtures):
    ca_name = None
    # mod_ssl verifies the response with only the certificates it carries: the responder must sign with
    # a delegated signer (sent along), as docs/stapler.md says for Apache.
    delegated_signer = False

    @classmethod
    def make_server(cls, workdir, port, proxy_url):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.build_pki(cls.ca_name, ["localhost"] + CLIENTS, responder=False)
        if cls.delegated_signer:
            cls.issuer_conf = responder_issuer(cls.pki, cls.ca_name.replace(" ", "-"), True, "proxy-mtls-signer")
        cls.start_responder()

    def setUp(self):
        self.proxy_port = free_port()
        self.stapler = self.start_stapler(
            [], proxy={"listen": [f"127.0.0.1:{self.proxy_port}"], "upstream_timeout": "1s", "negative_ttl": "1s"},
            proxy_issuers=[{"ca": str(self.pki.ca_cert), "responder_url": self.responder.url + "/"}])
        self.server = self.make_server(self.workdir("tls-server"), free_port(), f"http://127.0.0.1:{self.proxy_port}/")
        self.addCleanup(self.server.stop)
        self.server.start()

    def request(self, client):
        cert = self.certs[client]
        rc, code, body, err = curl(self.server.port, self.pki.ca_cert, "--cert", cert["cert"], "--key", cert["key"])
        return rc, code, body, err

    def assert_let_in(self, client, why=""):
        rc, code, body, err = self.request(client)
        self.assertEqual((rc, code, body), (0, "200", PAGE_BODY),
                         f"{client} {why}: {err}\n{self.server.logs()}\n{self.stapler.log_text()}")

    def assert_refused(self, client, why=""):
        rc, code, body, err = self.request(client)
        self.assertNotEqual(code, "200", f"{client} {why} was let in")
        self.assertNotIn(PAGE_BODY.strip(), body)
        if rc == 0:  # nginx answers a failed client verification with 400
            self.assertEqual(code, "400", body)

    def proxy_requests(self, result):
        return metric_value(self.stapler.metrics(), "ocsp_stapler_proxy_requests_total", result=result)

    def test_clients_through_the_proxy_across_a_revocation_an_outage_and_a_restart(self):
        self.revoke("revoked-before")
        self.assert_let_in("good")
        self.assert_let_in("revoked-later")
        self.assert_refused("revoked-before", "(revoked before the first request)")
        self.assertGreaterEqual(self.proxy_requests("miss"), 3, self.stapler.metrics_text())

        # Revoked while the proxy caches its good answer: refused once the proxy refreshed.
        self.revoke("revoked-later")
        rc, out = self.stapler.refresh()
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, rf"(?m):{self.certs['revoked-later']['serial']}: ok revoked$", out)
        self.assert_refused("revoked-later", "(revoked, then refreshed)")

        hits = self.proxy_requests("hit")
        self.assert_let_in("good", "(again)")
        self.assertGreater(self.proxy_requests("hit"), hits, "the second handshake is answered from the cache")

        self.responder.close()
        try:
            self.assert_let_in("good", "with the responder down")
            self.assert_refused("revoked-later", "with the responder down")
            self.assert_refused("revoked-before", "with the responder down")
            self.assert_refused("never-seen", "with the responder down")
            self.assertGreaterEqual(self.proxy_requests("unavailable") + self.proxy_requests("negative"), 1)

            self.stapler.restart()
            self.assert_let_in("good", "after a restart with the responder down")
            self.assert_refused("revoked-later", "after a restart with the responder down")
            self.assert_refused("never-seen", "after a restart with the responder down")
        finally:
            self.start_responder()
        self.assertTrue(self.stapler.alive(), self.stapler.log_text())


@unittest.skipUnless(have_apache(), "Apache httpd (apache2 with mod_ssl) not installed")
class ApacheThroughProxy(_ProxyMutualTls, unittest.TestCase):
    ca_name = "Apache Proxy mTLS CA"
    delegated_signer = True

    def make_server(self, workdir, port, proxy_url):
        c = self.certs["localhost"]
        return Apache(workdir, port, c["cert"], c["key"], vhost_directives=f"""
    SSLCACertificateFile "{self.pki.ca_cert}"
    SSLVerifyClient require
    SSLVerifyDepth 2
    SSLOCSPEnable leaf
    SSLOCSPDefaultResponder {proxy_url}
    SSLOCSPOverrideResponder on
    SSLOCSPUseRequestNonce off
    SSLOCSPResponderTimeout 5
""")


@unittest.skipUnless(have_nginx(), "nginx not installed")
class NginxThroughProxy(_ProxyMutualTls, unittest.TestCase):
    ca_name = "Nginx Proxy mTLS CA"

    def make_server(self, workdir, port, proxy_url):
        c = self.certs["localhost"]
        return Nginx(workdir, port, c["cert"], c["key"], server_directives=f"""
        ssl_verify_client on;
        ssl_client_certificate {self.pki.ca_cert};
        ssl_verify_depth 2;
        ssl_ocsp on;
        ssl_ocsp_responder {proxy_url};
""")


if __name__ == "__main__":
    unittest.main(verbosity=2)
