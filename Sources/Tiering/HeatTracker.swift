import Index
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Decaying access heat per file and per extent, kept in memory on the hot path and flushed to
/// the index in batches.
///
/// Decay without touching every extent on every access: values are stored in units that grow
/// with time (an access at time t adds 2^((t - t0) / halfLife)), so decaying a file to "now"
/// is one multiplication at read-out, and extents of one file compare directly.
public final class HeatTracker: Sendable {
    public let halfLife: Double
    public let extentSize: Int64
    private let epoch: Double
    private final class Shard: Sendable { let table = Mutex<[UInt64: Heat]>([:]) }
    private let shards: [Shard]

    struct Heat {
        var total: Double = 0
        var extents: [Double] = []
        /// Changed since the last flush; kept in the shard so a read takes one lock, not two.
        var dirty = false
    }

    public init(halfLife: Double, extentSize: Int) {
        self.halfLife = max(1, halfLife)
        self.extentSize = Int64(max(4096, extentSize))
        epoch = HeatTracker.now()
        shards = (0..<16).map { _ in Shard() }
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    private func weight(at time: Double) -> Double { exp2((time - epoch) / halfLife) }
    private func shard(_ ino: UInt64) -> Shard { shards[Int(ino % 16)] }

    /// One access of `length` bytes at `offset`.
    public func record(_ ino: UInt64, offset: Int64, length: Int) {
        let w = weight(at: HeatTracker.now())
        let first = Int(offset / extentSize)
        let last = length > 0 ? Int((offset + Int64(length) - 1) / extentSize) : first
        shard(ino).table.withLock { table in
            var heat = table[ino] ?? Heat()
            heat.total += w
            heat.dirty = true
            if last < 1 << 20 {
                if heat.extents.count <= last { heat.extents.append(contentsOf: repeatElement(0, count: last + 1 - heat.extents.count)) }
                for e in first...last { heat.extents[e] += w }
            }
            table[ino] = heat
        }
    }

    /// The file is gone: its heat goes too (the index row goes with the entry).
    public func forget(_ ino: UInt64) { _ = shard(ino).table.withLock { $0.removeValue(forKey: ino) } }

    /// The file's heat now: accesses, each halved every half-life since it happened.
    public func score(_ ino: UInt64) -> Double {
        let now = weight(at: HeatTracker.now())
        return (shard(ino).table.withLock { $0[ino]?.total } ?? 0) / now
    }

    /// Heat of each extent now (index = extent number).
    public func extentScores(_ ino: UInt64) -> [Double] {
        let now = weight(at: HeatTracker.now())
        return (shard(ino).table.withLock { $0[ino]?.extents } ?? []).map { $0 / now }
    }

    public func top(_ n: Int) -> [(ino: UInt64, score: Double)] {
        let now = weight(at: HeatTracker.now())
        var all: [(ino: UInt64, score: Double)] = []
        for shard in shards { shard.table.withLock { for (ino, heat) in $0 { all.append((ino, heat.total / now)) } } }
        return Array(all.sorted { $0.score > $1.score }.prefix(n))
    }

    /// Writes the heat of files accessed since the last flush to the index.
    public func flush(to index: IndexStore) {
        var changed: [(UInt64, Heat)] = []
        for shard in shards {
            shard.table.withLock { table in
                for (ino, heat) in table where heat.dirty {
                    changed.append((ino, heat))
                    table[ino]!.dirty = false
                }
            }
        }
        guard !changed.isEmpty else { return }
        let now = HeatTracker.now()
        let w = weight(at: now)
        let rows: [(UInt64, Double, [UInt8])] = changed.map { ino, heat in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(heat.extents.count * 4)
            for value in heat.extents {
                let bits = Float(value / w).bitPattern
                for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt32(k)))) }
            }
            return (ino, heat.total / w, bytes)
        }
        let gone = (try? index.write { tx throws(IndexError) -> [UInt64] in
            var gone: [UInt64] = []
            for (ino, score, extents) in rows where !(try tx.setHeat(ino: ino, score: score, updated: Int64(now), extents: extents)) {
                gone.append(ino)
            }
            return gone
        }) ?? []
        // Files deleted (also behind the mount, found by a scan) leave memory too.
        for ino in gone { forget(ino) }
    }

    /// Takes the heat recorded by earlier runs back into memory, decayed to now.
    public func load(from index: IndexStore, limit: Int = 100_000) {
        guard let rows = try? index.query({ tx throws(IndexError) in try tx.heat(limit: limit) }) else { return }
        let now = HeatTracker.now()
        for row in rows {
            let decay = exp2(-(now - Double(row.updated)) / halfLife)
            let w = weight(at: now)
            let extents = (try? index.query { tx throws(IndexError) in try tx.heatRow(row.ino)?.extents }) ?? nil
            var heat = Heat(total: row.score * decay * w, extents: [])
            if let extents {
                var i = 0
                while i + 4 <= extents.count {
                    var bits: UInt32 = 0
                    for k in 0..<4 { bits |= UInt32(extents[i + k]) << (8 * UInt32(k)) }
                    heat.extents.append(Double(Float(bitPattern: bits)) * decay * w)
                    i += 4
                }
            }
            shard(row.ino).table.withLock { $0[row.ino] = heat }
        }
    }
}
