// The cost the metrics counters add to one FUSE request (CCounters), measured alone:
//   gcc -O2 -ISources/CCounters/include bench/metrics-cost.c Sources/CCounters/ccounters.c -o /tmp/metrics-cost && /tmp/metrics-cost
#include "ccounters.h"
#include <stdio.h>
int main(void) {
    const int n = 20000000;
    uint64_t t0 = estuary_monotonic_ns();
    for (int i = 0; i < n; i++) { uint64_t s = estuary_metrics_start(); estuary_metrics_request_done(i % 30, s, 0); }
    uint64_t off = estuary_monotonic_ns() - t0;
    estuary_metrics_enable();
    t0 = estuary_monotonic_ns();
    for (int i = 0; i < n; i++) { uint64_t s = estuary_metrics_start(); estuary_metrics_request_done(i % 30, s, (i & 15) == 0 ? 2 : 0); estuary_metrics_fd_bytes(i & 1023, 4096, i & 1); }
    uint64_t on = estuary_monotonic_ns() - t0;
    printf("per request: metrics off %.1f ns, metrics on %.1f ns\n", (double)off / n, (double)on / n);
    return 0;
}
