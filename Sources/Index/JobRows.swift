/// The states of a move job, in order. A job only ever moves forward.
public enum JobState: String, Sendable, Codable, CaseIterable {
    case queued, copying, renaming, switched, done, cancelled, failed

    public var isFinished: Bool { self == .done || self == .cancelled || self == .failed }
}

/// The index's record of one move job.
public struct JobRow: Sendable, Equatable {
    public var id: Int64
    public var ino: UInt64
    public var source: SiloID
    public var destination: SiloID
    public var state: JobState
    public var extentSize: Int
    public var size: Int64
    public var sourceMtime: Int64
    public var done: [UInt8]
    public var hashes: [UInt8]
    public var log: [UInt8]
    public var bytesCopied: Int64
    public var batch: Int64?
    public var error: String?
    public var created: Int64
    public var updated: Int64

    public init(id: Int64 = 0, ino: UInt64, source: SiloID, destination: SiloID, state: JobState = .queued, extentSize: Int,
                size: Int64 = 0, sourceMtime: Int64 = 0, batch: Int64? = nil, created: Int64) {
        self.id = id; self.ino = ino; self.source = source; self.destination = destination; self.state = state
        self.extentSize = extentSize; self.size = size; self.sourceMtime = sourceMtime
        done = []; hashes = []; log = []; bytesCopied = 0; self.batch = batch; error = nil
        self.created = created; updated = created
    }

    public var extentCount: Int { size <= 0 ? 0 : Int((size + Int64(extentSize) - 1) / Int64(extentSize)) }

    public func isDone(_ extent: Int) -> Bool {
        extent / 8 < done.count && done[extent / 8] & (1 << UInt8(extent % 8)) != 0
    }

    public var doneCount: Int { (0..<extentCount).filter(isDone).count }

    /// Extent numbers in the order they arrived on the destination.
    public var arrivalOrder: [Int] {
        var order: [Int] = []
        var i = 0
        while i + 4 <= log.count {
            var value = 0
            for k in 0..<4 { value |= Int(log[i + k]) << (8 * k) }
            order.append(value)
            i += 4
        }
        return order
    }

    public func hash(_ extent: Int) -> UInt64 {
        let base = extent * 8
        guard base + 8 <= hashes.count else { return 0 }
        return (0..<8).reduce(UInt64(0)) { $0 | UInt64(hashes[base + $1]) << (8 * UInt64($1)) }
    }
}
