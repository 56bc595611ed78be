import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Coordinates writes to a file with the mover copying it. Writes pass freely and mark the
/// extents they touch dirty (the mover copies them again); only the final switch to the new
/// copy waits for writes in flight and holds new ones back for its few milliseconds.
public final class MoveGate: @unchecked Sendable {
    public let extentSize: Int64
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var writers = 0            // guarded by mutex
    private var switching = false      // guarded by mutex
    private var dirty = Set<Int>()     // guarded by mutex
    private var wanted: [Int] = []     // guarded by mutex: extents asked for by reads and writes, newest last

    init(extentSize: Int) {
        self.extentSize = Int64(max(4096, extentSize))
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex); pthread_cond_destroy(changed)
        mutex.deallocate(); changed.deallocate()
    }

    private func locked<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    private func extents(_ offset: Int64, _ length: Int64) -> ClosedRange<Int>? {
        guard length > 0, offset >= 0 else { return nil }
        return Int(offset / extentSize)...Int((offset + length - 1) / extentSize)
    }

    public func enterWrite() {
        pthread_mutex_lock(mutex)
        while switching { pthread_cond_wait(changed, mutex) }
        writers += 1
        pthread_mutex_unlock(mutex)
    }

    /// Ends a write of `length` bytes at `offset`: those extents must be copied (again).
    public func exitWrite(offset: Int64, length: Int64) {
        locked {
            writers -= 1
            if let range = extents(offset, length) { for e in range { dirty.insert(e); wanted.append(e) } }
            pthread_cond_broadcast(changed)
        }
    }

    /// Everything from `offset` on changed (a truncate or an extension).
    public func exitWrite(changedFrom offset: Int64, to end: Int64) {
        exitWrite(offset: offset, length: max(0, end - offset))
    }

    /// A read of a not-yet-moved extent puts it first in the mover's queue.
    public func wantRead(offset: Int64, length: Int64) {
        guard let range = extents(offset, length) else { return }
        locked { for e in range { wanted.append(e) } }
    }

    public func takeDirty() -> Set<Int> { locked { let d = dirty; dirty.removeAll(); return d } }
    /// Extents taken that could not be passed on: due again.
    public func putBackDirty(_ extents: Set<Int>) { locked { dirty.formUnion(extents) } }
    public func takeWanted() -> [Int] { locked { let w = wanted; wanted.removeAll(); return w } }

    /// Waits for writes in flight to finish and holds new ones back until `endSwitch`.
    public func beginSwitch() {
        pthread_mutex_lock(mutex)
        switching = true
        while writers > 0 { pthread_cond_wait(changed, mutex) }
        pthread_mutex_unlock(mutex)
    }

    public func endSwitch() {
        locked {
            switching = false
            pthread_cond_broadcast(changed)
        }
    }
}

/// The gates of the files being moved, and the writes in flight that began before a gate
/// existed: a move must not start copying until those have landed, or a slow write could fall
/// into the old copy after the switch.
final class MoveGates: Sendable {
    private final class Shard: Sendable {
        let state = Mutex<(gates: [UInt64: MoveGate], ungated: [UInt64: Int])>(([:], [:]))
    }
    private let shards: [Shard] = (0..<32).map { _ in Shard() }
    private let active = Atomic<Int>(0)

    @inline(__always)
    private func shard(_ ino: UInt64) -> Shard { shards[Int(ino % 32)] }

    /// Starts a change of `ino`'s data or name; pass the result to `exit`.
    func enter(_ ino: UInt64) -> MoveGate? {
        let gate = shard(ino).state.withLock { s -> MoveGate? in
            if let gate = s.gates[ino] { return gate }
            s.ungated[ino, default: 0] += 1
            return nil
        }
        gate?.enterWrite()
        return gate
    }

    /// Starts a change of two files' names (a rename over a file, an exchange). Lower inode
    /// first, so two renames crossing each other's files never wait on each other in a circle.
    func enter(_ a: UInt64, _ b: UInt64?) -> GatePair {
        guard let b, b != a else { return GatePair(first: (a, enter(a)), second: nil) }
        let (low, high) = a < b ? (a, b) : (b, a)
        let first = (low, enter(low))
        return GatePair(first: first, second: (high, enter(high)))
    }

    func exit(_ pair: GatePair) {
        if let (ino, gate) = pair.second { exit(ino, gate) }
        exit(pair.first.ino, pair.first.gate)
    }

    func exit(_ ino: UInt64, _ gate: MoveGate?, offset: Int64 = 0, length: Int64 = 0) {
        if let gate { gate.exitWrite(offset: offset, length: length); return }
        shard(ino).state.withLock { s in
            if let n = s.ungated[ino] { if n <= 1 { s.ungated.removeValue(forKey: ino) } else { s.ungated[ino] = n - 1 } }
        }
    }

    @inline(__always)
    func gate(_ ino: UInt64) -> MoveGate? {
        if active.load(ordering: .relaxed) == 0 { return nil }
        return shard(ino).state.withLock { $0.gates[ino] }
    }

    /// Opens the gate of `ino` and waits for changes that began without one.
    func open(_ ino: UInt64, extentSize: Int) -> MoveGate {
        let gate = shard(ino).state.withLock { s -> MoveGate in
            if let existing = s.gates[ino] { return existing }
            let gate = MoveGate(extentSize: extentSize)
            s.gates[ino] = gate
            active.wrappingAdd(1, ordering: .relaxed)
            return gate
        }
        while shard(ino).state.withLock({ $0.ungated[ino] ?? 0 }) > 0 { usleep(500) }
        return gate
    }

    /// Opens a gate of `ino` for another node's move, or nil when one is open already (this
    /// node moves the file, or another node's move holds it): two movers on one gate would
    /// take each other's dirty extents.
    func openIfAbsent(_ ino: UInt64, extentSize: Int) -> MoveGate? {
        let gate = shard(ino).state.withLock { s -> MoveGate? in
            if s.gates[ino] != nil { return nil }
            let gate = MoveGate(extentSize: extentSize)
            s.gates[ino] = gate
            active.wrappingAdd(1, ordering: .relaxed)
            return gate
        }
        guard let gate else { return nil }
        while shard(ino).state.withLock({ $0.ungated[ino] ?? 0 }) > 0 { usleep(500) }
        return gate
    }

    func close(_ ino: UInt64) {
        shard(ino).state.withLock { s in
            if s.gates.removeValue(forKey: ino) != nil { active.wrappingSubtract(1, ordering: .relaxed) }
        }
    }
}

/// The gates `MoveGates.enter(_:_:)` passed, to hand back to `exit`.
struct GatePair {
    let first: (ino: UInt64, gate: MoveGate?)
    let second: (ino: UInt64, gate: MoveGate?)?
}
