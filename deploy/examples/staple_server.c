/*
 * staple_server: the smallest TLS server that staples OCSP responses with libocspstaple, and checks its
 * clients' certificates (mTLS) from the stapling daemon's client cache.
 *
 *   staple-example-server CHAIN.pem KEY.pem CACHE PORT [MAX_CONNECTIONS]
 *                         [--client-ca CA.pem --client-cache CLIENT_CACHE [--client-policy hard|soft|warn-only]]
 *
 * Listens on 127.0.0.1:PORT (0 picks a free port; the chosen one is printed as "listening on PORT"),
 * answers every TLS connection with the line "hello", and stops after MAX_CONNECTIONS connections
 * (0 or absent: no limit) or on SIGTERM/SIGINT. Try it with:
 *
 *   openssl s_client -connect 127.0.0.1:PORT -status
 *
 * The only stapling code a server needs is the two calls in main(): ocsp_staple_cache_open() at start-up
 * and ocsp_staple_install() on the SSL_CTX; the handshake callback does the rest.
 *
 * With --client-ca, clients must present a certificate issued by CA.pem, and its OCSP status is looked up
 * in CLIENT_CACHE (the daemon's [proxy] client_cache) by ocsp_client_check_install(): revoked clients are
 * refused with the certificate_revoked alert, and the policy (default hard) decides for clients the cache
 * knows nothing about yet. Each connection prints one line on stdout: "client accepted SUBJECT" or
 * "client refused: REASON", then the check's counters as "counts good=.. revoked=.. ...". --client-ca
 * without --client-cache requires client certificates without checking their status.
 */
/* sigaction, SOCK_CLOEXEC and friends are POSIX/Linux, not ISO C11. */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "ocsp_staple.h"

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static int parse_number(const char *text, long max, long *out) {
    char *end = NULL;
    long v;
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 0 || v > max) return 0;
    *out = v;
    return 1;
}

static int listen_on(long port) {
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((unsigned short)port);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        close(fd);
        return -1;
    }
    printf("listening on %u\n", (unsigned)ntohs(addr.sin_port));
    fflush(stdout);
    return fd;
}

/* The soft-fail log line of the client check: a real server would write it to its error log. */
static void log_client_check(void *arg, const char *message) {
    (void)arg;
    fprintf(stderr, "client check: %s\n", message);
}

static void print_client_outcome(SSL *ssl, int accepted, const ocsp_staple_cache *client_cache) {
    ocsp_client_check_counts c;
    if (accepted) {
        char subject[256] = "?";
        X509 *peer = SSL_get0_peer_certificate(ssl);
        if (peer != NULL) X509_NAME_oneline(X509_get_subject_name(peer), subject, (int)sizeof subject);
        printf("client accepted %s\n", subject);
    } else {
        long verify = SSL_get_verify_result(ssl);
        printf("client refused: %s\n", verify == X509_V_OK ? "handshake failed" : X509_verify_cert_error_string(verify));
    }
    if (client_cache != NULL && ocsp_client_check_get_counts(client_cache, &c) == OCSP_STAPLE_OK) {
        printf("counts good=%llu revoked=%llu unknown=%llu no_answer_refused=%llu no_answer_accepted=%llu "
               "misses_sent=%llu misses_unsent=%llu\n",
               (unsigned long long)c.good, (unsigned long long)c.revoked, (unsigned long long)c.unknown,
               (unsigned long long)c.no_answer_refused, (unsigned long long)c.no_answer_accepted,
               (unsigned long long)c.misses_sent, (unsigned long long)c.misses_unsent);
    }
    fflush(stdout);
}

static void serve_one(SSL_CTX *ctx, int client, int mtls, const ocsp_staple_cache *client_cache) {
    static const char hello[] = "hello\n";
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL || SSL_set_fd(ssl, client) != 1) {
        ERR_print_errors_fp(stderr);
    } else if (SSL_accept(ssl) != 1) {
        /* Includes handshakes refused because the certificate is "not servable" or the client's is revoked. */
        fprintf(stderr, "handshake failed\n");
        ERR_print_errors_fp(stderr);
        if (mtls) print_client_outcome(ssl, 0, client_cache);
    } else {
        if (mtls) print_client_outcome(ssl, 1, client_cache);
        if (SSL_write(ssl, hello, (int)(sizeof hello - 1)) <= 0) ERR_print_errors_fp(stderr);
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    close(client);
}

struct client_options {
    const char *ca;
    const char *cache;
    int policy;
};

/* Reads the optional "--client-*" arguments from argv[first..]; 0 on a usage error. */
static int parse_client_options(int argc, char **argv, int first, struct client_options *out) {
    int i;
    out->ca = NULL;
    out->cache = NULL;
    out->policy = OCSP_CLIENT_POLICY_HARD;
    for (i = first; i < argc; i += 2) {
        if (i + 1 >= argc) return 0;
        if (strcmp(argv[i], "--client-ca") == 0) {
            out->ca = argv[i + 1];
        } else if (strcmp(argv[i], "--client-cache") == 0) {
            out->cache = argv[i + 1];
        } else if (strcmp(argv[i], "--client-policy") == 0) {
            if (strcmp(argv[i + 1], "hard") == 0) out->policy = OCSP_CLIENT_POLICY_HARD;
            else if (strcmp(argv[i + 1], "soft") == 0) out->policy = OCSP_CLIENT_POLICY_SOFT;
            else if (strcmp(argv[i + 1], "warn-only") == 0) out->policy = OCSP_CLIENT_POLICY_WARN_ONLY;
            else return 0;
        } else {
            return 0;
        }
    }
    /* --client-ca alone: mTLS without the OCSP check (the baseline of bench/mtls). */
    return out->cache == NULL || out->ca != NULL;
}

/* Requires client certificates from `ca` and, with a client cache, checks them against it. */
static int enable_client_check(SSL_CTX *ctx, const struct client_options *o, ocsp_staple_cache **out_cache) {
    int rc;
    if (SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1) {
        fprintf(stderr, "cannot load client CA %s\n", o->ca);
        ERR_print_errors_fp(stderr);
        return 0;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    /* A resumed session skips verification: no tickets or cached sessions, so every handshake is checked. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
    if (o->cache == NULL) return 1;
    rc = ocsp_staple_cache_open(o->cache, out_cache);
    if (rc != OCSP_STAPLE_OK) {
        fprintf(stderr, "cannot open client cache %s: %s\n", o->cache, ocsp_staple_error_string(rc));
        return 0;
    }
    ocsp_client_check_set_log(*out_cache, log_client_check, NULL);
    rc = ocsp_client_check_install(ctx, *out_cache, o->policy);
    if (rc != OCSP_STAPLE_OK) {
        fprintf(stderr, "ocsp_client_check_install: %s\n", ocsp_staple_error_string(rc));
        return 0;
    }
    return 1;
}

int main(int argc, char **argv) {
    long port = 0;
    long max_connections = 0;
    long served = 0;
    int rc;
    int listener;
    int first_option;
    ocsp_staple_cache *cache = NULL;
    ocsp_staple_cache *client_cache = NULL;
    struct client_options client;
    SSL_CTX *ctx = NULL;
    struct sigaction sa;

    first_option = argc >= 6 && strncmp(argv[5], "--", 2) != 0 ? 6 : 5;
    if (argc < 5 || !parse_number(argv[4], 65535, &port) ||
        (first_option == 6 && !parse_number(argv[5], 1000000000L, &max_connections)) ||
        !parse_client_options(argc, argv, first_option, &client)) {
        fprintf(stderr,
                "usage: %s CHAIN.pem KEY.pem CACHE PORT [MAX_CONNECTIONS] [--client-ca CA.pem --client-cache "
                "CLIENT_CACHE [--client-policy hard|soft|warn-only]]\n",
                argv[0]);
        return 2;
    }

    rc = ocsp_staple_cache_open(argv[3], &cache);
    if (rc != OCSP_STAPLE_OK) {
        fprintf(stderr, "cannot open staple cache %s: %s\n", argv[3], ocsp_staple_error_string(rc));
        return 1;
    }

    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        fprintf(stderr, "cannot load %s / %s\n", argv[1], argv[2]);
        ERR_print_errors_fp(stderr);
        SSL_CTX_free(ctx);
        ocsp_staple_cache_free(cache);
        return 1;
    }
    rc = ocsp_staple_install(ctx, cache);
    if (rc != OCSP_STAPLE_OK) {
        fprintf(stderr, "ocsp_staple_install: %s\n", ocsp_staple_error_string(rc));
        SSL_CTX_free(ctx);
        ocsp_staple_cache_free(cache);
        return 1;
    }
    if (client.ca != NULL && !enable_client_check(ctx, &client, &client_cache)) {
        SSL_CTX_free(ctx);
        ocsp_staple_cache_free(client_cache);
        ocsp_staple_cache_free(cache);
        return 1;
    }

    /* No SA_RESTART: a signal interrupts accept() so that the loop sees the request to stop. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    listener = listen_on(port);
    if (listener < 0) {
        perror("listen");
        SSL_CTX_free(ctx);
        ocsp_staple_cache_free(client_cache);
        ocsp_staple_cache_free(cache);
        return 1;
    }
    while (!stop_requested && (max_connections == 0 || served < max_connections)) {
        int connection = accept(listener, NULL, NULL);
        if (connection < 0) {
            if (errno == EINTR) continue;
            perror("accept");
            break;
        }
        serve_one(ctx, connection, client.ca != NULL, client_cache);
        ++served;
    }
    close(listener);
    /* The caches must outlive the SSL_CTX whose callbacks use them. */
    SSL_CTX_free(ctx);
    ocsp_staple_cache_free(client_cache);
    ocsp_staple_cache_free(cache);
    return 0;
}
