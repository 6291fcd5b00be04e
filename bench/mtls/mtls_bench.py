#!/usr/bin/env python3
"""Full TLS handshakes per second with client certificates against Apache httpd, in four setups
measured in one run on loopback (issue 12's benchmark):

  off           SSLVerifyClient require, no OCSP check
  direct-nonce  SSLOCSPEnable leaf, asking ocsp-responder in every handshake, with a nonce (Apache's
                default): the responder signs each answer
  direct        the same without a nonce (SSLOCSPUseRequestNonce off): the responder's pre-signed cache
  proxy         SSLOCSPEnable leaf through ocsp-stapler's [proxy] (no nonce): answered from its cache

The load: WORKERS processes, each opening connections one after another for SECONDS, a full TLS 1.2
handshake each (no session resumption; TLS 1.2 so that the handshake ends after the server verified the
client certificate), then closing. Reported per setup: handshakes/s, p50 and p99 handshake latency,
and the ratio to `off`. The PKI, the index and every server are made in a temp folder and stopped at the
end; it reuses the integration tests' helpers (tests/integration/lib).

Usage: bench/mtls/run.sh [SECONDS [WORKERS]]   (from the project root, after a build)
"""
import multiprocessing
import os
import socket
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

root = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(root / "tests" / "integration" / "lib"))
from ocspkit_testlib import Index, Pki, Responder, free_port, responder_issuer  # noqa: E402
from stapler_testlib import Stapler  # noqa: E402
from tls_servers import Apache  # noqa: E402


def worker(port, ca, cert, key, seconds, out):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(ca)
    ctx.load_cert_chain(cert, key)
    latencies, failures = [], 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                    tls.do_handshake()
            latencies.append(time.perf_counter() - start)
        except (OSError, ssl.SSLError):
            failures += 1
    out.put((latencies, failures))


def load(port, ca, cert, key, seconds, workers):
    q = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=worker, args=(port, ca, cert, key, seconds, q)) for _ in range(workers)]
    started = time.monotonic()
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.monotonic() - started
    latencies = sorted(x for r in results for x in r[0])
    failures = sum(r[1] for r in results)
    if not latencies:
        return {"rate": 0.0, "p50": float("nan"), "p99": float("nan"), "failures": failures}
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return {"rate": len(latencies) / elapsed, "p50": statistics.median(latencies), "p99": p99, "failures": failures,
            "n": len(latencies)}


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    with tempfile.TemporaryDirectory(prefix="ocspkit-bench-mtls-") as tmp:
        tmp = Path(tmp)
        responder_port = free_port()
        pki = Pki(tmp, "Bench mTLS CA", key="ec", ocsp_url=f"http://127.0.0.1:{responder_port}/")
        server_cert, server_key, _ = pki.issue("localhost", san="DNS:localhost")
        client_cert, client_key, _ = pki.issue("bench-client")
        issuer = responder_issuer(pki, "bench", True, "bench-ocsp-signer")  # mod_ssl needs the signer sent along
        index = Index(tmp / "index.db")
        index.add_pki(pki)
        (tmp / "responder").mkdir()
        responder = Responder(tmp / "responder", tmp / "index.db", [issuer], port=responder_port)
        proxy_port = free_port()
        stapler = Stapler(tmp / "stapler", [], proxy={"listen": [f"127.0.0.1:{proxy_port}"]},
                          proxy_issuers=[{"ca": str(pki.ca_cert), "responder_url": responder.url + "/"}],
                          stapler={"log_level": "warn"})
        base = f"""
    SSLCACertificateFile "{pki.ca_cert}"
    SSLVerifyClient require
    SSLVerifyDepth 2
"""
        setups = {
            "off": "",
            "direct-nonce": f"    SSLOCSPEnable leaf\n    SSLOCSPDefaultResponder {responder.url}/\n"
                            "    SSLOCSPOverrideResponder on\n",
            "direct": f"    SSLOCSPEnable leaf\n    SSLOCSPDefaultResponder {responder.url}/\n"
                      "    SSLOCSPOverrideResponder on\n    SSLOCSPUseRequestNonce off\n",
            "proxy": f"    SSLOCSPEnable leaf\n    SSLOCSPDefaultResponder http://127.0.0.1:{proxy_port}/\n"
                     "    SSLOCSPOverrideResponder on\n    SSLOCSPUseRequestNonce off\n",
        }
        results = {}
        try:
            for name, ocsp in setups.items():
                server = Apache(tmp / f"apache-{name}", free_port(), server_cert, server_key,
                                vhost_directives=base + ocsp)
                server.start()
                try:
                    load(server.port, str(pki.ca_cert), str(client_cert), str(client_key), 1, 1)  # warm-up
                    results[name] = load(server.port, str(pki.ca_cert), str(client_cert), str(client_key), seconds,
                                         workers)
                finally:
                    server.stop()
        finally:
            stapler.close()
            responder.close()

    off = results["off"]
    print(f"# {seconds:g} s per setup, {workers} client processes, TLS 1.2 full handshakes, "
          f"{os.cpu_count()} CPUs")
    print(f"{'setup':<14} {'handshakes/s':>13} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7} {'rate/off':>9} {'p99/off':>8}")
    for name, r in results.items():
        print(f"{name:<14} {r['rate']:>13.0f} {r['p50'] * 1000:>8.2f} {r['p99'] * 1000:>8.2f} {r['failures']:>7} "
              f"{r['rate'] / off['rate']:>9.2f} {r['p99'] / off['p99']:>8.2f}")
    bad = [n for n, r in results.items() if r["failures"]]
    if bad:
        print(f"handshakes failed in: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
