import Index
import Silos
import Synchronization
import Syscalls

/// What a placement policy may know of a silo: numbers, no descriptors, no syscalls.
public struct SiloCandidate: Sendable, Equatable {
    public var id: SiloID
    public var tierRank: Int
    public var order: Int
    public var available: UInt64
    public var minFree: UInt64
    public init(id: SiloID, tierRank: Int, order: Int, available: UInt64, minFree: UInt64) {
        self.id = id; self.tierRank = tierRank; self.order = order; self.available = available; self.minFree = minFree
    }
}

/// Chooses the silo for a new entry. Pure, so it is tested without disks and replaced whole
/// when objectives arrive.
public protocol PlacementPolicy: Sendable {
    /// `candidates` are the writable, online silos; `parentSilos` the bitmask of silos already
    /// holding the parent directory. Nil means no silo can take it.
    func choose(among candidates: [SiloCandidate], parentSilos: UInt64) -> SiloID?
}

/// The first tier (fastest first) with a silo above its `min_free`; within it the silo that
/// already holds the parent directory if one qualifies, else the one with most free space.
/// When every silo is below its floor, the one with most space left still takes the file,
/// as a local file system would until it is truly full.
public struct FirstTierMostFree: PlacementPolicy {
    public init() {}

    public func choose(among candidates: [SiloCandidate], parentSilos: UInt64) -> SiloID? {
        let qualified = candidates.filter { $0.available > $0.minFree }
        func best(_ silos: [SiloCandidate]) -> SiloCandidate? {
            silos.max { ($0.available, -$0.order) < ($1.available, -$1.order) }
        }
        if let firstTier = qualified.map(\.tierRank).min() {
            let tier = qualified.filter { $0.tierRank == firstTier }
            let holdingParent = tier.filter { parentSilos & (1 << UInt64($0.id)) != 0 }
            return (best(holdingParent) ?? best(tier))?.id
        }
        return best(candidates.filter { $0.available > 0 })?.id
    }
}

/// Free space per silo, refreshed at most once a second: placement must not cost a statvfs
/// per silo per create.
final class SiloSpace: Sendable {
    private let cache = Mutex<[Int: (time: Double, available: UInt64)]>([:])

    func candidates(_ silos: SiloSet) -> [SiloCandidate] {
        let now = monotonicSeconds()
        return silos.all.compactMap { silo -> SiloCandidate? in
            // A bucket takes data only through tier moves: nothing is created there.
            guard silo.isOnline, !silo.readOnly, !silo.draining, !silo.isObjectStore else { return nil }
            let cached = cache.withLock { $0[silo.id] }
            var available = cached?.available ?? 0
            if cached == nil || now - cached!.time > 1.0 {
                guard silo.isOnline else { return nil }
                available = silo.availableBytes
                cache.withLock { $0[silo.id] = (now, available) }
            }
            return SiloCandidate(id: silo.id, tierRank: silo.tierRank, order: silo.order, available: available, minFree: silo.minFree)
        }
    }

    /// Forget a silo's number after it reported ENOSPC, so the next choice sees the truth.
    func invalidate(_ id: Int) { cache.withLock { _ = $0.removeValue(forKey: id) } }
}
