#ifndef FERRY_COPENSSL_SHIM_H
#define FERRY_COPENSSL_SHIM_H
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

// OpenSSL_version_num and friends are macros in some versions; these give Swift one stable spelling.
static inline unsigned long ferry_openssl_version_num(void) { return OpenSSL_version_num(); }


// TLS (the HTTP server's listener). These SSL_CTX_* calls are macros over SSL_CTX_ctrl, which Swift cannot
// call; ERR_GET_REASON is a macro in some versions.
static inline int ferry_ssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
  return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
static inline long ferry_ssl_ctx_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static inline int ferry_ssl_ctx_set_groups_list(SSL_CTX *ctx, const char *list) {
  return (int)SSL_CTX_set1_groups_list(ctx, list);
}
static inline int ferry_ssl_ctx_set_dh_auto(SSL_CTX *ctx) { return (int)SSL_CTX_set_dh_auto(ctx, 1); }
static inline long ferry_ssl_ctx_set_session_cache_mode(SSL_CTX *ctx, long mode) {
  return SSL_CTX_set_session_cache_mode(ctx, mode);
}
static inline long ferry_ssl_ctx_sess_set_cache_size(SSL_CTX *ctx, long size) {
  return SSL_CTX_sess_set_cache_size(ctx, size);
}
// No renegotiation (so a write never has to wait for a read), no compression (CRIME), and a peer that closes
// without close_notify is an ordinary end of input (HTTP's own framing catches truncation). SSL_OP_* are
// macros Swift cannot import.
static inline void ferry_ssl_ctx_set_server_options(SSL_CTX *ctx) {
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
}
// Client certificates required: a client without one that chains to the loaded CAs fails the handshake.
static inline void ferry_ssl_ctx_require_client_certificates(SSL_CTX *ctx) {
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
}
static inline int ferry_err_get_reason(unsigned long error) { return ERR_GET_REASON(error); }

// ALPN: the server speaks HTTP/1.1 only. A client that offers ALPN without http/1.1 (h2 only) goes on
// without a protocol rather than failing, as nginx does.
static inline int ferry_alpn_select_http11(
  SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in, unsigned int inlen,
  void *arg) {
  (void)ssl;
  (void)arg;
  static const unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  if (SSL_select_next_proto(
        (unsigned char **)out, outlen, http11, sizeof(http11), in, inlen) == OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}
static inline void ferry_ssl_ctx_use_http11_alpn(SSL_CTX *ctx) {
  SSL_CTX_set_alpn_select_cb(ctx, ferry_alpn_select_http11, NULL);
}

// Kernel TLS (file bodies through SSL_sendfile). Where OpenSSL was built with it (Debian's 3.0 is) and the
// kernel has the tls ULP, OpenSSL hands the connection's keys to the kernel after the handshake; elsewhere
// the option costs one failed setsockopt per connection and everything stays in user space.
static inline void ferry_ssl_ctx_enable_ktls(SSL_CTX *ctx) {
#ifdef SSL_OP_ENABLE_KTLS
  SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
#else
  (void)ctx;
#endif
}
// 1 when the kernel encrypts what this session sends.
static inline int ferry_ssl_sends_through_kernel(SSL *ssl) {
#if defined(SSL_OP_ENABLE_KTLS) && !defined(OPENSSL_NO_KTLS)
  return BIO_get_ktls_send(SSL_get_wbio(ssl)) ? 1 : 0;
#else
  (void)ssl;
  return 0;
#endif
}
// SSL_sendfile where it exists (OpenSSL 3.0 with kernel TLS); -1 with ENOSYS elsewhere.
static inline long ferry_ssl_sendfile(SSL *ssl, int fd, long offset, size_t size) {
#if defined(SSL_OP_ENABLE_KTLS) && !defined(OPENSSL_NO_KTLS)
  return (long)SSL_sendfile(ssl, fd, (off_t)offset, size, 0);
#else
  (void)ssl; (void)fd; (void)offset; (void)size;
  errno = ENOSYS;
  return -1;
#endif
}
static inline const char *ferry_ssl_cipher_name(const SSL *ssl) { return SSL_get_cipher_name(ssl); }

#endif
