import CCounters
import Prometheus
#if canImport(Glibc)
import Glibc
#endif

/// The request counters of the serving threads (CCounters), carried into the registry at each
/// scrape: latency histograms by operation, errors by operation and errno, bytes per silo,
/// and the index's commit latency.
struct RequestMetrics {
    private let registry: PrometheusCollectorRegistry
    private let bounds: [Duration]
    private var operations: [Int: (DurationHistogram, HistogramTransfer)] = [:]
    private var commits: HistogramTransfer
    private let commitHistogram: DurationHistogram
    private var errors: [Int: UInt64] = [:]            // op * slots + errno -> last reading
    private var siloBytes: [Int: UInt64] = [:]         // silo * 2 + written -> last reading

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        let buckets = ESTUARY_LATENCY_BUCKETS
        bounds = HistogramTransfer.bounds({ estuary_latency_bound_ns(Int32($0)) }, buckets: buckets)
        commits = HistogramTransfer(buckets: buckets)
        commitHistogram = registry.durationHistogram("estuary_index_commit_duration_seconds", [], buckets: bounds,
            help: "Time to commit one batch of namespace changes to the index.")
    }

    mutating func collect(siloNames: [Int: (name: String, tier: String)]) {
        let buckets = ESTUARY_LATENCY_BUCKETS
        for op in 0..<Int(ESTUARY_OP_COUNT.rawValue) {
            let count = { (b: Int) in estuary_read_op_count(Int32(op), Int32(b)) }
            let sum = { (b: Int) in estuary_read_op_sum_ns(Int32(op), Int32(b)) }
            if operations[op] == nil {
                guard HistogramTransfer(buckets: buckets).hasNews(count: count) else { continue }
                let histogram = registry.durationHistogram("estuary_request_duration_seconds", [("op", Self.opName(op))], buckets: bounds,
                    help: "Time from a FUSE request's arrival to its reply, by operation.")
                operations[op] = (histogram, HistogramTransfer(buckets: buckets))
            }
            operations[op]!.1.transfer(into: operations[op]!.0, count: count, sumNs: sum)
            collectErrors(op)
        }
        commits.transfer(into: commitHistogram, count: { estuary_read_commit_count(Int32($0)) },
                         sumNs: { estuary_read_commit_sum_ns(Int32($0)) })
        for slot in 0..<ESTUARY_SILO_SLOTS {
            for written in [0, 1] {
                let value = estuary_read_silo_bytes(Int32(slot), Int32(written))
                let key = slot * 2 + written
                let last = siloBytes[key] ?? 0
                guard value > last || (siloBytes[key] == nil && siloNames[slot] != nil) else { continue }
                let silo = siloNames[slot] ?? (name: "silo\(slot)", tier: "")
                let counter = registry.counter(written == 1 ? "estuary_silo_written_bytes_total" : "estuary_silo_read_bytes_total",
                    [("silo", silo.name), ("tier", silo.tier)],
                    help: written == 1 ? "Bytes written through the mount to files on the silo."
                                       : "Bytes the kernel asked to read through the mount from files on the silo (a read at the end of a file asks for whole pages).")
                counter.increment(by: Int64(clamping: value - last))
                siloBytes[key] = value
            }
        }
    }

    private mutating func collectErrors(_ op: Int) {
        let slots = ESTUARY_ERRNO_SLOTS
        for slot in 1..<slots {
            let value = estuary_read_op_errors(Int32(op), Int32(slot))
            let key = op * slots + slot
            let last = errors[key] ?? 0
            guard value > last else { continue }
            let counter = registry.counter("estuary_request_errors_total", [("op", Self.opName(op)), ("errno", Self.errnoName(slot))],
                help: "FUSE requests answered with an error, by operation and errno.")
            counter.increment(by: Int64(clamping: value - last))
            errors[key] = value
        }
    }

    static func opName(_ op: Int) -> String { String(cString: estuary_op_name(Int32(op))) }

    static func errnoName(_ value: Int) -> String {
        if let name = estuary_errno_name(Int32(value)) { return String(cString: name) }
        return "errno\(value)"
    }
}
