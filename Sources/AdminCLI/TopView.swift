import ControlProtocol
import Foundation
import PoolMetrics

/// One screen of `estuary top`, from two metric readings an interval apart plus the daemon's
/// running jobs and hottest files. Pure: lines in, lines out, so it is easy to test.
struct TopView {
    struct Reading {
        var metrics: MetricsText
        var time: Double
    }

    var pool: String
    var mountpoint: String
    var previous: Reading
    var current: Reading
    var jobs: [JobReport]
    var heat: [HeatReport]
    var interval: Double
    var width: Int

    private var seconds: Double { max(0.001, current.time - previous.time) }

    private func rate(_ name: String, _ labels: [String: String] = [:]) -> Double {
        max(0, current.metrics.sum(name, labels) - previous.metrics.sum(name, labels)) / seconds
    }

    func lines() -> [String] {
        var out = ["estuary top — pool \(pool) at \(mountpoint), every \(Self.number(interval))s (Ctrl-C quits)", ""]
        out += requests()
        out.append("")
        out += silos()
        out.append("")
        out += moves()
        if !heat.isEmpty {
            out.append("")
            out += hottest()
        }
        return out.map { $0.count > width ? String($0.prefix(width)) : $0 }
    }

    private func requests() -> [String] {
        let count = "estuary_request_duration_seconds_count", sum = "estuary_request_duration_seconds_sum"
        let ops = current.metrics.values(of: "op", in: count).map { op -> (String, Double, Double, Double) in
            let n = rate(count, ["op": op]) * seconds
            let latency = n > 0 ? rate(sum, ["op": op]) * seconds / n : 0
            return (op, n / seconds, latency, rate("estuary_request_errors_total", ["op": op]))
        }.sorted { $0.1 > $1.1 }
        let total = ops.reduce(0) { $0 + $1.1 }
        var rows = [["REQUESTS", "OPS/S", "AVG LATENCY", "ERRORS/S"]]
        for (op, perSecond, latency, errors) in ops.prefix(12) where perSecond > 0 {
            rows.append([op, Self.number(perSecond), Self.duration(latency), Self.number(errors)])
        }
        if rows.count == 1 { rows.append(["(idle)", "0", "-", "0"]) }
        rows.append(["total", Self.number(total), "", ""])
        return Format.table(rows)
    }

    private func silos() -> [String] {
        var rows = [["SILO", "TIER", "READ/S", "WRITTEN/S", "USED", "SIZE", "STATE"]]
        for silo in current.metrics.values(of: "silo", in: "estuary_silo_capacity_bytes") {
            let labels = ["silo": silo]
            let tier = current.metrics.samples.first { $0.name == "estuary_silo_capacity_bytes" && $0.labels["silo"] == silo }?.labels["tier"] ?? ""
            let state = current.metrics.samples.first {
                $0.name == "estuary_silo_state" && $0.labels["silo"] == silo && $0.value == 1
            }?.labels["state"] ?? "?"
            rows.append([silo, tier,
                         Format.bytes(UInt64(rate("estuary_silo_read_bytes_total", labels))) + "/s",
                         Format.bytes(UInt64(rate("estuary_silo_written_bytes_total", labels))) + "/s",
                         Format.bytes(UInt64(current.metrics.sum("estuary_silo_used_bytes", labels))),
                         Format.bytes(UInt64(current.metrics.sum("estuary_silo_capacity_bytes", labels))), state])
        }
        return Format.table(rows)
    }

    private func moves() -> [String] {
        let m = current.metrics
        let summary = ["queued", "copying", "done", "failed"].map { "\(Int(m.sum("estuary_move_jobs", ["state": $0]))) \($0)" }
        var out = ["MOVES  " + summary.joined(separator: ", ") + ", "
                   + Format.bytes(UInt64(rate("estuary_moved_bytes_total"))) + "/s moved"]
        let running = jobs.filter { $0.state != "queued" }
        let barWidth = 20
        for job in (running + jobs.filter { $0.state == "queued" }).prefix(8) {
            let fraction = job.size > 0 ? min(1, Double(job.bytesCopied) / Double(job.size)) : 0
            let filled = Int(fraction * Double(barWidth))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: barWidth - filled)
            out.append("  [\(bar)] \(String(format: "%3d%%", Int(fraction * 100))) \(job.state.padding(toLength: 8, withPad: " ", startingAt: 0)) "
                       + "\(job.source) -> \(job.destination)  \(Format.bytes(UInt64(max(0, job.size))))  \(job.path)")
        }
        if jobs.isEmpty { out.append("  (no moves running)") }
        return out
    }

    private func hottest() -> [String] {
        var rows = [["HEAT", "TIER", "SILO", "HOTTEST FILES"]]
        for item in heat { rows.append([Self.number(item.heat), item.tier, item.silo, item.path]) }
        return Format.table(rows)
    }

    static func number(_ value: Double) -> String {
        if value == 0 { return "0" }
        if value >= 100 { return String(Int(value.rounded())) }
        return String(format: value >= 10 ? "%.1f" : "%.2f", value)
    }

    static func duration(_ seconds: Double) -> String {
        if seconds <= 0 { return "-" }
        if seconds < 1e-3 { return "\(Int((seconds * 1e6).rounded())) µs" }
        if seconds < 1 { return String(format: "%.1f ms", seconds * 1e3) }
        return String(format: "%.2f s", seconds)
    }
}
