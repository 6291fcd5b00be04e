#!/usr/bin/env python3
"""Full TLS handshakes per second with client certificates, measured in one run on loopback (issue 12's
benchmark), in three groups, each with its own baseline:

  Apache httpd
    off           SSLVerifyClient require, no OCSP check (the group's baseline)
    direct-nonce  SSLOCSPEnable leaf, asking ocsp-responder in every handshake, with a nonce (Apache's
                  default): the responder signs each answer
    direct        the same without a nonce (SSLOCSPUseRequestNonce off): the responder's pre-signed cache
    proxy         SSLOCSPEnable leaf through ocsp-stapler's [proxy] (no nonce): answered from its cache
  nginx
    off           ssl_verify_client on, no OCSP check (baseline)
    proxy         ssl_ocsp on, ssl_ocsp_responder the stapler's [proxy]
  staple-example-server (deploy/examples/staple_server.c, one connection at a time)
    off           --client-ca: client certificates verified, no status check (baseline)
    library       --client-cache: ocsp_client_check_install(), the status read from the stapler's client
                  cache in the handshake (hard policy)

The load: WORKERS processes, each opening connections one after another for SECONDS, a full TLS 1.2
handshake each (no session resumption; TLS 1.2 so that the handshake ends after the server verified the
client certificate), then closing; every setup takes its turn ROUNDS times. Reported per setup, as
medians of its rounds: handshakes/s, p50 and p99 handshake latency, and the ratios to its group's `off`. The PKI, the index and every server are made in a temp folder and stopped at the
end; it reuses the integration tests' helpers (tests/integration/lib).

Usage: bench/mtls/run.sh [SECONDS [WORKERS [ROUNDS]]]   (from the project root, after a build; defaults 5 4 3)
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
from stapler_testlib import StapleServer, Stapler  # noqa: E402
from tls_servers import Apache, Nginx  # noqa: E402


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
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
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
        apache_base = f"""
    SSLCACertificateFile "{pki.ca_cert}"
    SSLVerifyClient require
    SSLVerifyDepth 2
"""
        nginx_base = f"""
        ssl_verify_client on;
        ssl_client_certificate {pki.ca_cert};
        ssl_verify_depth 2;
"""
        proxy_url = f"http://127.0.0.1:{proxy_port}/"

        def apache(ocsp):
            return lambda name: Apache(tmp / name, free_port(), server_cert, server_key, vhost_directives=apache_base + ocsp)

        def nginx(ocsp):
            return lambda name: Nginx(tmp / name, free_port(), server_cert, server_key, server_directives=nginx_base + ocsp)

        def example(*args):
            def make(name):
                server = StapleServer(tmp / name, server_cert, server_key, stapler.shm_path,
                                      extra_args=["--client-ca", pki.ca_cert, *args])
                server.stop = server.close  # one interface with the web servers
                return server
            return make

        setups = [
            ("apache", "off", apache("")),
            ("apache", "direct-nonce", apache(f"    SSLOCSPEnable leaf\n    SSLOCSPDefaultResponder {responder.url}/\n"
                                              "    SSLOCSPOverrideResponder on\n")),
            ("apache", "direct", apache(f"    SSLOCSPEnable leaf\n    SSLOCSPDefaultResponder {responder.url}/\n"
                                        "    SSLOCSPOverrideResponder on\n    SSLOCSPUseRequestNonce off\n")),
            ("apache", "proxy", apache(f"    SSLOCSPEnable leaf\n    SSLOCSPDefaultResponder {proxy_url}\n"
                                       "    SSLOCSPOverrideResponder on\n    SSLOCSPUseRequestNonce off\n")),
            ("nginx", "off", nginx("")),
            ("nginx", "proxy", nginx(f"        ssl_ocsp on;\n        ssl_ocsp_responder {proxy_url};\n")),
            ("example", "off", example()),
            ("example", "library", example("--client-cache", stapler.shm_path.parent / "clients",
                                            "--client-policy", "hard")),
        ]
        # Every server runs for the whole benchmark, and the setups take turns, ROUNDS times: each
        # figure is the median of its rounds, so that a slow moment of the machine hits every setup
        # alike instead of one.
        samples = {(group, name): [] for group, name, _ in setups}
        servers = {}
        try:
            for group, name, make in setups:
                server = make(f"{group}-{name}")
                if hasattr(server, "start"):
                    server.start()
                servers[(group, name)] = server
                # Warm-up; for the library, the first handshake is the miss that makes the stapler fetch.
                load(server.port, str(pki.ca_cert), str(client_cert), str(client_key), 1, 1)
            for _ in range(rounds):
                for key, server in servers.items():
                    samples[key].append(load(server.port, str(pki.ca_cert), str(client_cert), str(client_key),
                                             seconds, workers))
        finally:
            for server in servers.values():
                server.stop()
            stapler.close()
            responder.close()

    def median_of(runs):
        by_rate = sorted(runs, key=lambda r: r["rate"])
        mid = by_rate[len(by_rate) // 2]
        return {"rate": mid["rate"], "p50": statistics.median(r["p50"] for r in runs),
                "p99": statistics.median(r["p99"] for r in runs), "failures": sum(r["failures"] for r in runs)}

    results = {key: median_of(runs) for key, runs in samples.items()}
    print(f"# {rounds} rounds of {seconds:g} s per setup (medians), {workers} client processes, "
          f"TLS 1.2 full handshakes, {os.cpu_count()} CPUs")
    print(f"{'server':<8} {'setup':<13} {'handshakes/s':>13} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7} "
          f"{'rate/off':>9} {'p99/off':>8}")
    for (group, name), r in results.items():
        off = results[(group, "off")]
        print(f"{group:<8} {name:<13} {r['rate']:>13.0f} {r['p50'] * 1000:>8.2f} {r['p99'] * 1000:>8.2f} "
              f"{r['failures']:>7} {r['rate'] / off['rate']:>9.2f} {r['p99'] / off['p99']:>8.2f}")
    bad = [f"{g} {n}" for (g, n), r in results.items() if r["failures"]]
    if bad:
        print(f"handshakes failed in: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
