#ifndef ESTUARY_CCRYPTO_SHIM_H
#define ESTUARY_CCRYPTO_SHIM_H
#include <stddef.h>
#include <openssl/evp.h>

/* One-shot digests through EVP (the MD5_* and SHA256_* calls are deprecated in OpenSSL 3).
   Content-MD5 and ETags need MD5; x-amz-content-sha256 needs SHA-256. */
static inline int estuary_md5(const void *data, size_t length, unsigned char out[16]) {
    unsigned int n = 0;
    return EVP_Digest(data, length, out, &n, EVP_md5(), NULL);
}
static inline int estuary_sha256(const void *data, size_t length, unsigned char out[32]) {
    unsigned int n = 0;
    return EVP_Digest(data, length, out, &n, EVP_sha256(), NULL);
}
#endif
