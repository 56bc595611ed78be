#ifndef ESTUARY_CXXHASH_SHIM_H
#define ESTUARY_CXXHASH_SHIM_H
#include <stddef.h>
#include <xxhash.h>

#if defined(__x86_64__) && __has_include(<xxh_x86dispatch.h>)
#define XXH_DISPATCH_DISABLE_REPLACE 1
#include <xxh_x86dispatch.h>
#endif

/// XXH3's streaming update. On x86-64, through the library's runtime CPU dispatch (AVX2 or
/// AVX-512 where the CPU has them) rather than its SSE2 baseline: the same hash, about four
/// times as fast with AVX2.
static inline XXH_errorcode estuary_xxh3_update(XXH3_state_t *state, const void *input, size_t length) {
#if defined(__x86_64__) && __has_include(<xxh_x86dispatch.h>)
    return XXH3_64bits_update_dispatch(state, input, length);
#else
    return XXH3_64bits_update(state, input, length);
#endif
}
#endif
