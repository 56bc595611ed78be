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

/* A streamed MD5, for files too large to hold: begin, update as often as needed, end (which
   frees the context). */
static inline EVP_MD_CTX *estuary_md5_begin(void) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1) { EVP_MD_CTX_free(ctx); return NULL; }
    return ctx;
}
static inline int estuary_md5_update(EVP_MD_CTX *ctx, const void *data, size_t length) {
    return EVP_DigestUpdate(ctx, data, length);
}
static inline int estuary_md5_end(EVP_MD_CTX *ctx, unsigned char out[16]) {
    unsigned int n = 0;
    int ok = EVP_DigestFinal_ex(ctx, out, &n);
    EVP_MD_CTX_free(ctx);
    return ok;
}
#endif
