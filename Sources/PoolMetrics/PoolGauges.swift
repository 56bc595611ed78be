import Prometheus

/// Turns a PoolSnapshot into gauges (and the moved-bytes counter): silo capacity, health and
/// state, tier fill against its watermarks, move jobs, heat distribution, index size.
struct PoolGauges {
    private let registry: PrometheusCollectorRegistry
    private var lastBytesMoved: Int64?
    private var lastScrape: Double?
    /// Silo states already exported, so a state the silo left is set back to 0.
    private var siloStates: [String: Set<String>] = [:]

    static let jobStates = ["queued", "copying", "renaming", "switched", "done", "cancelled", "failed"]
    static let heatThresholds: [Double] = [0.1, 1, 10, 100, 1000]

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    private func gauge(_ name: String, _ labels: [(String, String)], _ help: String, _ value: Double) {
        registry.gauge(name, labels, help: help).set(to: value)
    }

    mutating func collect(_ snapshot: PoolSnapshot, now: Double) {
        gauge("estuary_index_entries", [], "Entries (files, directories, links) in the index.", Double(snapshot.entries))
        gauge("estuary_index_size_bytes", [], "Size of the index database and its write-ahead log.", Double(snapshot.indexBytes))
        gauge("estuary_index_lost_batches", [], "Namespace change batches the index refused since the mount.",
              Double(snapshot.lostCommitBatches))
        gauge("estuary_node_fences", [], "Times this node was silent past its validity and fenced itself since the mount.",
              Double(snapshot.fences))
        gauge("estuary_node_fence_repointed_handles", [],
              "Open handles a fence recovery pointed at the copy another node moved their file to, since the mount.",
              Double(snapshot.fenceRepointedHandles))
        collectSilos(snapshot)
        collectTiers(snapshot)
        collectMoves(snapshot, now: now)
        for threshold in Self.heatThresholds {
            let count = snapshot.heatScores.count { $0 >= threshold }
            gauge("estuary_heat_files", [("min_heat", threshold.bucketRepresentation)],
                  "Files among the hottest whose heat is at least min_heat.", Double(count))
        }
    }

    private mutating func collectSilos(_ snapshot: PoolSnapshot) {
        for silo in snapshot.silos {
            let labels = [("silo", silo.name), ("tier", silo.tier)]
            gauge("estuary_silo_capacity_bytes", labels, "Size of the file system holding the silo.", Double(silo.totalBytes))
            gauge("estuary_silo_used_bytes", labels, "Bytes in use on the file system holding the silo.", Double(silo.usedBytes))
            gauge("estuary_silo_entries", labels, "Index entries whose data lives on the silo.", Double(silo.entries))
            gauge("estuary_silo_up", labels, "1 while the silo is online and serving.", silo.health == "online" ? 1 : 0)
            gauge("estuary_silo_read_only", labels, "1 for a silo configured read-only.", silo.readOnly ? 1 : 0)
            var states = siloStates[silo.name, default: []]
            states.insert(silo.health)
            for state in states {
                gauge("estuary_silo_state", labels + [("state", state)], "1 for the silo's current health state.",
                      state == silo.health ? 1 : 0)
            }
            siloStates[silo.name] = states
            if let age = silo.scanAgeSeconds {
                gauge("estuary_silo_scan_age_seconds", labels, "Seconds since the silo was last scanned (scan lag).", age)
            }
            if let behind = silo.watchBehindSeconds {
                gauge("estuary_silo_watch_behind_seconds", labels,
                      "How far behind the silo the index may be: age of the oldest change seen and not applied (watched) or since the last sweep began (swept).", behind)
            }
            if let waiting = silo.watchWaiting {
                gauge("estuary_silo_watch_waiting_changes", labels, "Changes seen in watched silos and not applied yet.", Double(waiting))
            }
            if silo.watchBehindSeconds != nil {
                // 0 until a first batch: nothing followed live has waited yet.
                gauge("estuary_silo_watch_lag_seconds", labels, "Seconds from the first change of the last applied batch to its application.",
                      silo.watchLastLagSeconds ?? 0)
            }
            if let losses = silo.watchLosses {
                gauge("estuary_silo_watch_lost_event_rescans", labels, "Full rescans since the mount because events were lost (queue overflow, a refused batch).", Double(losses))
            }
        }
    }

    private func collectTiers(_ snapshot: PoolSnapshot) {
        for tier in snapshot.tiers {
            let members = snapshot.silos.filter { $0.tier == tier.name }
            let total = members.reduce(0.0) { $0 + Double($1.totalBytes) }
            let used = members.reduce(0.0) { $0 + Double($1.usedBytes) }
            let labels = [("tier", tier.name)]
            gauge("estuary_tier_capacity_bytes", labels, "Capacity of the tier's silos.", total)
            gauge("estuary_tier_used_bytes", labels, "Bytes in use on the tier's silos.", used)
            gauge("estuary_tier_used_ratio", labels, "Fill of the tier, 0 to 1, to compare with its watermarks.",
                  total > 0 ? used / total : 0)
            if let high = tier.highWatermark {
                gauge("estuary_tier_high_watermark_ratio", labels, "Fill above which the tier sheds data.", Double(high) / 100)
            }
            if let low = tier.lowWatermark {
                gauge("estuary_tier_low_watermark_ratio", labels, "Fill down to which the tier sheds data.", Double(low) / 100)
            }
        }
    }

    private mutating func collectMoves(_ snapshot: PoolSnapshot, now: Double) {
        for state in Self.jobStates {
            gauge("estuary_move_jobs", [("state", state)], "Move jobs the index holds, by state.",
                  Double(snapshot.jobsByState[state] ?? 0))
        }
        let moved = registry.counter("estuary_moved_bytes_total", [],
                                         help: "Bytes copied between silos by tier moves.")
        let grown = max(0, snapshot.bytesMoved - (lastBytesMoved ?? 0))
        moved.increment(by: grown)
        if let lastScrape, let lastBytesMoved, now > lastScrape {
            gauge("estuary_move_rate_bytes_per_second", [], "Bytes moved per second since the previous scrape.",
                  Double(max(0, snapshot.bytesMoved - lastBytesMoved)) / (now - lastScrape))
        } else {
            gauge("estuary_move_rate_bytes_per_second", [], "Bytes moved per second since the previous scrape.", 0)
        }
        lastBytesMoved = max(lastBytesMoved ?? 0, snapshot.bytesMoved)
        lastScrape = now
    }
}
