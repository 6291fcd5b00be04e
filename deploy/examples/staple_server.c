/*
 * staple_server: the smallest TLS server that staples OCSP responses with libocspstaple.
 *
 *   staple-example-server CHAIN.pem KEY.pem CACHE PORT [MAX_CONNECTIONS]
 *
 * Listens on 127.0.0.1:PORT (0 picks a free port; the chosen one is printed as "listening on PORT"),
 * answers every TLS connection with the line "hello", and stops after MAX_CONNECTIONS connections
 * (0 or absent: no limit) or on SIGTERM/SIGINT. Try it with:
 *
 *   openssl s_client -connect 127.0.0.1:PORT -status
 *
 * The only stapling code a server needs is the two calls in main(): ocsp_staple_cache_open() at start-up
 * and ocsp_staple_install() on the SSL_CTX; the handshake callback does the rest.
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

static void serve_one(SSL_CTX *ctx, int client) {
    static const char hello[] = "hello\n";
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL || SSL_set_fd(ssl, client) != 1) {
        ERR_print_errors_fp(stderr);
    } else if (SSL_accept(ssl) != 1) {
        /* Includes handshakes refused because the certificate is "not servable". */
        fprintf(stderr, "handshake failed\n");
        ERR_print_errors_fp(stderr);
    } else {
        if (SSL_write(ssl, hello, (int)(sizeof hello - 1)) <= 0) ERR_print_errors_fp(stderr);
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    close(client);
}

int main(int argc, char **argv) {
    long port = 0;
    long max_connections = 0;
    long served = 0;
    int rc;
    int listener;
    ocsp_staple_cache *cache = NULL;
    SSL_CTX *ctx = NULL;
    struct sigaction sa;

    if (argc < 5 || argc > 6 || !parse_number(argv[4], 65535, &port) ||
        (argc == 6 && !parse_number(argv[5], 1000000000L, &max_connections))) {
        fprintf(stderr, "usage: %s CHAIN.pem KEY.pem CACHE PORT [MAX_CONNECTIONS]\n", argv[0]);
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
        ocsp_staple_cache_free(cache);
        return 1;
    }
    while (!stop_requested && (max_connections == 0 || served < max_connections)) {
        int client = accept(listener, NULL, NULL);
        if (client < 0) {
            if (errno == EINTR) continue;
            perror("accept");
            break;
        }
        serve_one(ctx, client);
        ++served;
    }
    close(listener);
    /* The cache must outlive the SSL_CTX whose callback uses it. */
    SSL_CTX_free(ctx);
    ocsp_staple_cache_free(cache);
    return 0;
}
