import Index
import Silos
import Syscalls
import Synchronization
import CShims
#if canImport(Glibc)
import Glibc
#endif

/// Assimilates silos into the index: one walker thread per silo, one writer (the caller's
/// thread) merging their listings in large transactions.
public struct Scanner: Sendable {
    public let index: IndexStore
    public let silos: SiloSet

    /// Whether listings of directories the scan added skip the index lookups
    /// (`IndexMerger.freshDirectories`); tests turn it off to compare the two paths.
    public var freshDirectories = true

    public init(index: IndexStore, silos: SiloSet) { self.index = index; self.silos = silos }

    /// Scans `targets` (all silos by default). `progress` is called about twice a second.
    /// `live` says the pool is mounted meanwhile (see `IndexMerger.liveSince`); `nameChanged`
    /// hears of every name added, removed or changed in kind, after it is committed.
    public func scan(_ targets: [Silo]? = nil, live: Bool = false, dryRun: Bool = false,
                     nameChanged: ((_ parent: UInt64, _ name: [UInt8]) -> Void)? = nil,
                     progress: (ScanProgress) -> Void = { _ in }) throws(IndexError) -> ScanSummary {
        let targets = targets ?? silos.all
        let started = monotonicSeconds()
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let wallStart = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec) - 20_000_000
        // Walkers far ahead of the writer only take the cores it needs: 32,768 entries queued
        // at most instead of 512 listings (0.62 -> 0.58 s for 200,000 entries, see below).
        let queue = BlockingQueue<DirectoryBatch>(capacity: 32_768, producers: targets.count, weight: { $0.entries.count + 1 })
        let problems = Mutex<[ScanProblem]>([])
        let threads = targets.map { silo in
            OSThread.start {
                let report: @Sendable (ScanProblem) -> Void = { p in problems.withLock { $0.append(p) } }
                if silo.isObjectStore { ObjectSiloLister(silo: silo, queue: queue, report: report, index: index).run() }
                else { SiloWalker(silo: silo, queue: queue, report: report).run() }
            }
        }
        // The scan ends when the writer does, and with warm caches the walkers want more CPU
        // than there are cores: at equal priority they took a third of the writer's time
        // (200,000 entries in 4 silos on 2 cores: 0.64 s, 0.55 s with the writer at nice -5;
        // 0.94 and 0.81 s beside two busy loops). Ten walkers outweigh -5 too (1,000,000
        // entries in 10 silos: 3.12 s at -5, 2.81 s at -10, 2.80 s at -15). Only where the
        // process may raise a priority (root, CAP_SYS_NICE), and not in a live scan, whose
        // writer must not outrank the requests being served.
        var niceBefore: Int32 = 0
        let boosted = !live && estuary_thread_nice(&niceBefore) == 0 && estuary_set_thread_nice(niceBefore - 10) == 0
        defer { if boosted { _ = estuary_set_thread_nice(niceBefore) } }
        let merger = IndexMerger(silos: silos)
        merger.linksPossible = index.mayHoldLinks   // a scan adds no hard-link names of its own
        if live { merger.liveSince = wallStart }
        // Names are passed on per committed transaction: a busy retry replays a chunk.
        var uncommitted: [(UInt64, [UInt8])] = []
        if nameChanged != nil { merger.nameChanged = { uncommitted.append(($0, $1)) } }
        let deliver = {
            if let nameChanged { for (parent, name) in uncommitted { nameChanged(parent, name) } }
            uncommitted.removeAll()
        }
        merger.shadowsExist = try index.query { tx throws(IndexError) in try tx.shadowCount() } > 0
        // A first scan is a bulk load: the name-search indexes are left out, to be built
        // once after it instead of row by row (`IndexStore.buildSearchIndexes`).
        let empty = try index.query({ tx throws(IndexError) in try tx.entryCount() }) == 0
        if !dryRun && empty {
            try index.write { tx throws(IndexError) in try tx.setSearchIndexes(false) }
        }
        // With nobody else writing, a directory the scan added is known to be empty in the index,
        // and an empty index holds what this scan adds: its counts need no pass over the table.
        if !live && !index.engine.isShared {
            if freshDirectories { merger.freshDirectories = [] }
            if empty { merger.addedCounts = Array(repeating: 0, count: 64); merger.startedEmpty = true }
        }
        // Listings are merged as they come, a chunk per transaction.
        var lastReport = started
        var finished = false
        while !finished {
            let (chunk, last) = queue.popChunk()
            if chunk.isEmpty { break }
            finished = last
            let saved = (merger.summary, merger.directories, merger.pendingRemovals, merger.problems, merger.skipped,
                         merger.freshDirectories, merger.addedCounts)
            let apply = { (tx: WriteTransaction) throws(IndexError) in
                // A busy retry replays the chunk.
                (merger.summary, merger.directories, merger.pendingRemovals, merger.problems, merger.skipped,
                 merger.freshDirectories, merger.addedCounts) = saved
                uncommitted.removeAll()
                for batch in chunk { try merger.apply(batch, tx) }
            }
            if dryRun { try index.dryRun(apply) } else { try index.write(apply); deliver() }
            let now = monotonicSeconds()
            if now - lastReport >= 0.5 {
                progress(ScanProgress(entries: merger.summary.entries, seconds: now - started))
                lastReport = now
            }
        }
        threads.forEach { $0.join() }
        let problemList = problems.withLock { $0 } + merger.problems
        let failedSilos = Set(problemList.filter { $0.path.isEmpty }.map(\.silo))
        let saved = (merger.summary, merger.pendingRemovals, merger.addedCounts)
        let finish = { (tx: WriteTransaction) throws(IndexError) in
            (merger.summary, merger.pendingRemovals, merger.addedCounts) = saved
            uncommitted.removeAll()
            try merger.finish(tx)
            guard !dryRun else { return }
            let rows = try tx.reader.silos()
            var counts: [SiloID: Int64]
            if let added = merger.addedCounts {
                counts = [:]
                for (silo, n) in added.enumerated() where n > 0 { counts[silo] = n }
            } else {
                counts = try tx.reader.entryCounts()
            }
            for silo in targets where !failedSilos.contains(silo.name) {
                let generation = (rows.first { $0.id == silo.id }?.scanGeneration ?? 0) + 1
                try tx.recordScan(silo: silo.id, generation: generation, entries: counts[silo.id] ?? 0, at: Int64(time(nil)))
            }
        }
        if dryRun { try index.dryRun(finish) } else { try index.write(finish); deliver() }
        var summary = merger.summary
        summary.problems = problemList
        summary.silos = targets.map(\.name)
        summary.shadowed = Int(try index.query { tx throws(IndexError) in try tx.shadowCount() })
        summary.seconds = monotonicSeconds() - started
        progress(ScanProgress(entries: summary.entries, seconds: summary.seconds))
        return summary
    }
}
