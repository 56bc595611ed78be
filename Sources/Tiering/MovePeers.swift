import Index
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// The answers other nodes sent this node's moves, by job run, until the run takes them.
final class MoveAcks: Sendable {
    private let table = Mutex<[UInt64: [MoveSignal]]>([:])

    func record(_ ack: MoveSignal) { table.withLock { $0[ack.attempt, default: []].append(ack) } }

    /// The answers to `kind` for run `attempt` so far, by node.
    func answers(_ attempt: UInt64, to kind: MoveSignal.Kind) -> [String: MoveSignal] {
        table.withLock { t in
            var found: [String: MoveSignal] = [:]
            for ack in t[attempt] ?? [] where ack.answers == kind { found[ack.from] = ack }
            return found
        }
    }

    /// Takes the extents reported written for run `attempt` (nil: all of them).
    func takeDirty(_ attempt: UInt64) -> [Int]? {
        table.withLock { t in
            guard let acks = t[attempt] else { return [] }
            var extents: [Int] = []
            var all = false
            t[attempt] = acks.filter { ack in
                guard ack.answers == .dirty else { return true }
                if let listed = ack.extents { extents.append(contentsOf: listed) } else { all = true }
                return false
            }
            return all ? nil : extents
        }
    }

    func forget(_ attempt: UInt64) { table.withLock { _ = $0.removeValue(forKey: attempt) } }
}

/// One run of a move as seen by the other live nodes of a shared index (see PeerMoves for
/// their side). Before the copy every other live node opens a gate on the file; before the
/// switch each holds its writers, reports the extents it wrote and readies its handles on the
/// copy; after the index switch each points its handles at the copy, and only when all said
/// so may the source go. A node that does not answer stops the run before the switch (the
/// job is retried; the source stays the file) and keeps the source after it.
///
/// On an index no other daemon shares (no node registry) every step is nothing.
struct MovePeers {
    private let mover: Mover
    private let node: NodeMembership?
    private var request: MoveSignal
    private var peers: Set<String> = []
    private var settled = false

    init(mover: Mover, job: JobRow) {
        self.mover = mover
        node = mover.node
        request = MoveSignal(kind: .gate, from: node?.node.id ?? "", job: job.id, attempt: UInt64.random(in: 1...UInt64.max), ino: job.ino)
        request.destination = job.destination
        request.extentSize = job.extentSize
    }

    /// Every other live node opens its gate on the file; the copy may begin once all have.
    mutating func gate() throws(MoveStop) {
        guard let node else { return }
        do { peers = try node.livePeers() } catch { throw .deferred("cannot list the other nodes: \(error)") }
        if peers.isEmpty { return }
        _ = try ask(.gate, in: node)
    }

    /// The other nodes this run asked (gated and held): the switch requires that no other is alive.
    var asked: Set<String> { peers }

    /// The extents the gated nodes reported written during the copy since the last call
    /// (nil: all of them).
    func takeDirty() -> [Int]? {
        guard node != nil, !peers.isEmpty else { return [] }
        return mover.acks.takeDirty(request.attempt)
    }

    /// Every gated node holds its writers and readies its handles; returns the extents they
    /// wrote since their last report, and those of reports not yet taken (nil: all of them).
    mutating func hold(renamed: Bool = false) throws(MoveStop) -> [Int]? {
        guard let node else { return [] }
        // A node that started after the gates opened wrote to the source without one.
        let now: Set<String>
        do { now = try node.livePeers() } catch { throw .deferred("cannot list the other nodes: \(error)") }
        if !now.isSubset(of: peers) { throw .deferred("a node joined during the copy") }
        if peers.isEmpty { return [] }
        request.renamed = renamed
        let answers = try ask(.hold, in: node)
        // Every report a node sent before its answer arrived before it (one session, in order).
        guard var dirty = takeDirty().map(Set.init) else { return nil }
        for ack in answers.values {
            guard let extents = ack.extents else { return nil }
            dirty.formUnion(extents)
        }
        return Array(dirty)
    }

    /// After the index switch: every held node points its handles at the copy. Throws when
    /// one did not confirm, so the source (which its handles may still use) is kept.
    mutating func switchOver() throws(MoveStop) {
        guard let node, !peers.isEmpty else { settled = true; return }
        settled = true   // from here a release must not follow: the index names the copy
        do { _ = try ask(.switchOver, in: node) }
        catch { throw .failed("a node did not confirm its handles follow the copy (\(error)); the old copy is kept") }
    }

    /// The end of a run. One that did not reach the other nodes' switch lets them go: on the
    /// source when the index still names it, else to the copy (the run stopped after the index
    /// switch, with a local handle left on the source), without waiting for them.
    mutating func release() {
        defer { mover.acks.forget(request.attempt) }
        guard let node, !peers.isEmpty, !settled else { return }
        settled = true
        var signal = request
        let row = try? mover.index.query { tx throws(IndexError) in try tx.entry(request.ino) }
        signal.kind = row?.silo == request.destination ? .switchOver : .release
        try? node.send(signal)
    }

    /// Sends `kind` and waits for every peer's answer, up to the dead time: a live node
    /// answers within it, a dead one never does.
    /// A node that leaves the registry meanwhile (a clean stop: unmounted, nothing open) is
    /// no longer waited for.
    private mutating func ask(_ kind: MoveSignal.Kind, in node: NodeMembership) throws(MoveStop) -> [String: MoveSignal] {
        var signal = request
        signal.kind = kind
        do { try node.send(signal) } catch { throw .deferred("cannot signal the other nodes: \(error)") }
        let deadline = monotonicSeconds() + Double(node.deadAfter)
        var lookedAt = monotonicSeconds()
        while true {
            if monotonicSeconds() - lookedAt > 0.5, let registered = try? node.registeredPeers() {
                peers.formIntersection(registered)
                lookedAt = monotonicSeconds()
            }
            let answers = mover.acks.answers(request.attempt, to: kind)
            if let refusal = answers.values.first(where: { !$0.ok }) {
                throw .deferred("node \(refusal.from) refused the \(kind.rawValue): \(refusal.detail)")
            }
            if peers.isSubset(of: Set(answers.keys)) { return answers }
            if monotonicSeconds() > deadline {
                let missing = peers.subtracting(answers.keys).sorted().joined(separator: ", ")
                throw .deferred("node(s) \(missing) did not answer the \(kind.rawValue)")
            }
            if mover.isCancelled(request.job) && kind != .switchOver { throw .cancelled }
            usleep(1000)
        }
    }
}
