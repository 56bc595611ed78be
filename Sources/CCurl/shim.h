#ifndef ESTUARY_CCURL_SHIM_H
#define ESTUARY_CCURL_SHIM_H
#include <stddef.h>
#include <curl/curl.h>

/* curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: one typed
   wrapper per argument kind. */
static inline CURLcode estuary_curl_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode estuary_curl_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode estuary_curl_ptr(CURL *h, CURLoption o, const void *v) { return curl_easy_setopt(h, o, v); }

typedef size_t (*estuary_curl_io)(char *buffer, size_t size, size_t count, void *user);
static inline CURLcode estuary_curl_write(CURL *h, estuary_curl_io f, void *user) {
    CURLcode c = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, f);
    return c != CURLE_OK ? c : curl_easy_setopt(h, CURLOPT_WRITEDATA, user);
}
static inline CURLcode estuary_curl_read(CURL *h, estuary_curl_io f, void *user) {
    CURLcode c = curl_easy_setopt(h, CURLOPT_READFUNCTION, f);
    return c != CURLE_OK ? c : curl_easy_setopt(h, CURLOPT_READDATA, user);
}
static inline CURLcode estuary_curl_header(CURL *h, estuary_curl_io f, void *user) {
    CURLcode c = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, f);
    return c != CURLE_OK ? c : curl_easy_setopt(h, CURLOPT_HEADERDATA, user);
}
static inline long estuary_curl_status(CURL *h) {
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    return code;
}
#endif
