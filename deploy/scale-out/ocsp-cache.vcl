# Varnish as a shared HTTP cache in front of N ocsp-responder replicas, purged by them when a certificate
# changes (docs/operations.md, "HTTP caches in front of the responder"). A template: fill in the
# placeholders between @ signs (README.md); tests/integration/responder/test_http_caches.py does so
# on loopback and runs it.
#
# Responder side, on every replica (responder.toml):
#   [server]
#   path = "/ocsp"
#   [http_cache]
#   s_maxage = "5m"                     # optional: how long the cache may keep an answer without a purge
#   [[http_cache.purge]]
#   url = "http://10.0.0.10:6081"       # Varnish itself: PURGE comes in on the client port
vcl 4.1;

import directors;

# One per replica, e.g.
#   backend replica0 { .host = "10.0.0.11"; .port = "8080"; .probe = { .url = "/health"; } }
@BACKENDS@

# Who may PURGE: the replicas' addresses, e.g. "10.0.0.0"/24;
acl purgers {
    @PURGERS@
}

sub vcl_init {
    new replicas = directors.round_robin();
@ADD_BACKENDS@
}

sub vcl_recv {
    set req.backend_hint = replicas.backend();
    # One object per request whatever the client percent-encoded: base64's '+', '/' and '=' are decoded
    # (in either case), which is the form the responder purges. The replicas accept both forms.
    set req.url = regsuball(req.url, "%2[Bb]", "+");
    set req.url = regsuball(req.url, "%2[Ff]", "/");
    set req.url = regsuball(req.url, "%3[Dd]", "=");
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(405, "PURGE not allowed"));
        }
        return (purge);
    }
    # Everything else as the built-in VCL does: GET and HEAD are looked up, POST is passed.
}

sub vcl_hash {
    # The path alone: clients use the public host name, the replicas purge under theirs.
    hash_data(req.url);
    return (lookup);
}

sub vcl_backend_response {
    # The responder says must-revalidate: no grace, so that without a purge a revocation shows at
    # s-maxage (or max-age), not up to Varnish's default 10 s of grace later. Lifetimes come from the
    # responder's Cache-Control (s-maxage before max-age); no-cache answers (nonce, unknown, errors)
    # are not stored (built-in VCL).
    set beresp.grace = 0s;
}
