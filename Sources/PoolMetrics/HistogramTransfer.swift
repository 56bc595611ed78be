import Prometheus

/// Carries what a latency histogram in CCounters gained since the last scrape into a
/// swift-prometheus histogram with the same bucket bounds.
///
/// Why this way: the serving threads must not take the Prometheus histogram's lock, so they
/// count into plain atomic buckets (count and nanosecond sum per bucket). At scrape time each
/// bucket's new observations are recorded at their mean, which lies inside the bucket, so the
/// bucket counts stay exact and the sum is exact to within a nanosecond per observation. The
/// cost is one record per new observation, paid by the exporter thread, never by a request.
struct HistogramTransfer {
    private var lastCounts: [UInt64]
    private var lastSums: [UInt64]

    init(buckets: Int) {
        lastCounts = Array(repeating: 0, count: buckets)
        lastSums = Array(repeating: 0, count: buckets)
    }

    /// True when any bucket has new observations (so a histogram worth creating).
    func hasNews(count: (Int) -> UInt64) -> Bool {
        lastCounts.indices.contains { count($0) != lastCounts[$0] }
    }

    mutating func transfer(into histogram: DurationHistogram, count: (Int) -> UInt64, sumNs: (Int) -> UInt64) {
        for bucket in lastCounts.indices {
            let total = count(bucket), sum = sumNs(bucket)
            // The count and the sum are read one after the other while requests go on; a sum
            // read ahead of its count is carried to the next scrape, never lost.
            guard total > lastCounts[bucket] else { continue }
            let added = total - lastCounts[bucket]
            let addedSum = sum >= lastSums[bucket] ? sum - lastSums[bucket] : 0
            let mean = Duration.nanoseconds(Int64(clamping: addedSum / added))
            for _ in 0..<added { histogram.record(mean) }
            lastCounts[bucket] = total
            lastSums[bucket] = lastSums[bucket] + mean.nanosecondsApproximation * added
        }
    }

    /// The bucket bounds of CCounters' latency buckets, for the Prometheus histograms.
    static func bounds(_ bound: (Int) -> UInt64, buckets: Int) -> [Duration] {
        (0..<(buckets - 1)).map { Duration.nanoseconds(Int64(bound($0))) }
    }
}

extension Duration {
    var nanosecondsApproximation: UInt64 {
        let (seconds, attoseconds) = components
        return UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds / 1_000_000_000))
    }
}
