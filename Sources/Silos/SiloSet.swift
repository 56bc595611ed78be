#if canImport(Glibc)
import Glibc
#endif

/// The silos of a pool, indexed by their index id for O(1) lookup on hot paths.
public struct SiloSet: Sendable {
    public let all: [Silo]
    private let byID: [Silo?]

    public init(_ silos: [Silo]) {
        all = silos.sorted { $0.order < $1.order }
        var table = [Silo?](repeating: nil, count: 64)
        for silo in silos { table[silo.id] = silo }
        byID = table
    }

    @inlinable public subscript(id: Int) -> Silo? { id >= 0 && id < 64 ? lookup(id) : nil }
    @usableFromInline func lookup(_ id: Int) -> Silo? { byID[id] }

    public func named(_ name: String) -> Silo? { all.first { $0.name == name } }

    /// Capacity summed over the online silos, counting each underlying file system once
    /// (two silos on one disk must not double its size).
    public func totalCapacity() -> (blocks: UInt64, free: UInt64, available: UInt64, files: UInt64, freeFiles: UInt64, blockSize: UInt64) {
        var seen = Set<UInt64>()
        var total: (blocks: UInt64, free: UInt64, available: UInt64, files: UInt64, freeFiles: UInt64, blockSize: UInt64) = (0, 0, 0, 0, 0, 4096)
        for silo in all where silo.isOnline {
            guard let s = try? silo.statfs(), seen.insert(silo.device).inserted else { continue }
            let unit = UInt64(s.f_frsize == 0 ? s.f_bsize : s.f_frsize)
            total.blocks += UInt64(s.f_blocks) * unit / total.blockSize
            total.free += UInt64(s.f_bfree) * unit / total.blockSize
            total.available += UInt64(s.f_bavail) * unit / total.blockSize
            total.files += UInt64(s.f_files)
            total.freeFiles += UInt64(s.f_ffree)
        }
        return total
    }
}
