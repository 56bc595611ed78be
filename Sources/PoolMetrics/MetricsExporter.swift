import CCounters
import Prometheus
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Renders the daemon's metrics in the Prometheus text format (through swift-prometheus). The
/// request counters are switched on when the exporter is made: until someone asks for metrics
/// the serving threads do not even read the clock.
public final class MetricsExporter: Sendable {
    private struct State {
        var requests: RequestMetrics
        var pool: PoolGauges
        var cpu: Counter
        var lastCPU = 0.0
    }

    private let state: Mutex<State>
    private let snapshot: @Sendable () -> PoolSnapshot?

    public init(version: String, snapshot: @escaping @Sendable () -> PoolSnapshot?) {
        let registry = PrometheusCollectorRegistry()
        registry.gauge("estuary_build_info", [("version", version)], help: "The running estuaryfs version.").set(to: 1)
        let cpu = registry.counter("process_cpu_seconds_total", [], help: "CPU time the daemon used.")
        state = Mutex(State(requests: RequestMetrics(registry: registry), pool: PoolGauges(registry: registry), cpu: cpu))
        self.registry = registry
        self.snapshot = snapshot
        estuary_metrics_enable()
    }

    private let registry: PrometheusCollectorRegistry

    /// The exposition text; one scrape at a time (each carries counters since the previous).
    public func render() -> String {
        let pool = snapshot()
        return state.withLock { state in
            let names = Dictionary(pool?.silos.map { ($0.id, (name: $0.name, tier: $0.tier)) } ?? [], uniquingKeysWith: { a, _ in a })
            state.requests.collect(siloNames: names)
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            if let pool { state.pool.collect(pool, now: Double(now.tv_sec) + Double(now.tv_nsec) / 1e9) }
            if let rss = ProcessStats.residentBytes() {
                registry.gauge("process_resident_memory_bytes", [], help: "Resident memory of the daemon.").set(to: rss)
            }
            if let cpu = ProcessStats.cpuSeconds(), cpu > state.lastCPU {
                state.cpu.increment(by: cpu - state.lastCPU)
                state.lastCPU = cpu
            }
            return registry.emitToString()
        }
    }
}
