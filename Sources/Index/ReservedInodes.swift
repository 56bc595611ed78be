import Synchronization

/// Inode numbers taken out of the writer's counter in blocks, so that a create can be given
/// its number without the writer lock: the create then answers before the index stores it
/// (docs/decisions.md, "Metadata against mergerfs's man-page presets").
///
/// A block is durable before any number of it is handed out (its reservation committed, as
/// for every number: it may be written into a silo as an inode hint at once). Numbers of a
/// block that is dropped or replaced are skipped, never reused.
final class InodeBlock: Sendable {
    let range = Mutex<Range<UInt64>>(0..<0)

    /// Whether `ino` waits in the block, handed out to nobody yet: an inode hint a scan finds
    /// must not take it, or a create would later be given the same number.
    func holds(_ ino: UInt64) -> Bool { range.withLock { $0.contains(ino) } }
}

extension IndexStore {
    /// Creates may answer before the index takes them: a committer runs, and no other daemon
    /// writes this index (with a shared index two nodes may create one name at once, and only
    /// the insert tells them apart; numbers there come in blocks from a shared counter).
    public var createsMayWait: Bool { batch.running.load(ordering: .relaxed) && !engine.isShared }

    /// A fresh inode number, never handed out before in this pool and durably reserved, usually
    /// without touching the writer.
    public func reserveInode() throws(IndexError) -> UInt64 {
        if let ino = inodeBlock.range.withLock({ block -> UInt64? in
            guard let first = block.first else { return nil }
            block = (first + 1)..<block.upperBound
            return first
        }) { return ino }
        let taken = try writer.withLock { state throws(IndexError) -> Range<UInt64> in
            // Numbers below `reservedInode` are committed as reserved; when none are left, a
            // commit moves the reservation (WriterState.commit).
            if state.nextInode >= state.reservedInode {
                try openBatch(state)
                try commitBatch(state)
            }
            let block = state.nextInode..<state.reservedInode
            state.nextInode = state.reservedInode
            return block
        }
        guard let first = taken.first else { throw IndexError(.failed, "no inode numbers were reserved") }
        inodeBlock.range.withLock { $0 = (first + 1)..<taken.upperBound }
        return first
    }
}
