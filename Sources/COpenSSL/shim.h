#ifndef FERRY_COPENSSL_SHIM_H
#define FERRY_COPENSSL_SHIM_H
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/err.h>
#include <openssl/opensslv.h>

// OpenSSL_version_num and friends are macros in some versions; these give Swift one stable spelling.
static inline unsigned long ferry_openssl_version_num(void) { return OpenSSL_version_num(); }

#endif
