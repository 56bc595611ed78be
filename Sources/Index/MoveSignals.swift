/// The messages of a tier move between the nodes of a shared index (issue 16: "the move gate
/// and handle switch work across nodes"). The node running a move asks every other live node
/// to open its gate on the file (`gate`), to hold its writers and ready its handles on the
/// copy (`hold`), and to point them at the copy once the index names it (`switch`), or to let
/// go (`release`); each answers with an `ack` naming the request. They travel on the
/// invalidation channel (`NOTIFY`, delivered at once: sent in autocommit), prefixed `m;` so an
/// invalidation reader skips them.
public struct MoveSignal: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case gate, hold, release, ack
        case switchOver = "switch"
        /// A gated node's writes since its last report, sent unasked during the copy (as an
        /// ack answering `dirty`), so the mover copies them again while writers still run.
        case dirty
    }

    public var kind: Kind
    /// The sending node.
    public var from: String
    /// For an ack, the node that asked; empty for a request, which every node reads.
    public var to: String = ""
    public var job: Int64
    /// One run of the job: a later run of the same job never takes an old run's acks.
    public var attempt: UInt64
    public var ino: UInt64
    public var destination: Int = 0
    public var extentSize: Int = 0
    /// For `hold`: the copy is already renamed into place (a resumed rename), so handles are
    /// reopened on the file's path in the destination instead of the staging file.
    public var renamed = false
    /// For an ack: the request it answers, and whether it was done.
    public var answers: Kind = .ack
    public var ok = true
    /// For an ack of `hold`: the extents written through the node since its gate opened
    /// ("*": too many to list, copy them all); of a refusal: why.
    public var detail = ""

    public init(kind: Kind, from: String, job: Int64, attempt: UInt64, ino: UInt64) {
        self.kind = kind; self.from = from; self.job = job; self.attempt = attempt; self.ino = ino
    }

    /// The answer to this request from `node`.
    public func ack(from node: String, ok: Bool, detail: String = "") -> MoveSignal {
        var a = MoveSignal(kind: .ack, from: node, job: job, attempt: attempt, ino: ino)
        a.to = from; a.answers = kind; a.ok = ok; a.detail = detail
        a.destination = destination; a.extentSize = extentSize
        return a
    }

    static let prefix = "m;"
    /// NOTIFY payloads stop at 8,000 bytes.
    static let detailLimit = 7_000

    public var encoded: String {
        let fields: [String] = [kind.rawValue, from, to, String(job), String(attempt, radix: 16), String(ino, radix: 16),
                                String(destination), String(extentSize), renamed ? "1" : "0", answers.rawValue, ok ? "1" : "0",
                                String(detail.prefix(MoveSignal.detailLimit))]
        return MoveSignal.prefix + fields.joined(separator: ";")
    }

    public static func decode(_ payload: String) -> MoveSignal? {
        guard payload.hasPrefix(prefix) else { return nil }
        let f = payload.dropFirst(prefix.count).split(separator: ";", maxSplits: 11, omittingEmptySubsequences: false).map(String.init)
        guard f.count == 12, let kind = Kind(rawValue: f[0]), let job = Int64(f[3]), let attempt = UInt64(f[4], radix: 16),
              let ino = UInt64(f[5], radix: 16), let destination = Int(f[6]), let extentSize = Int(f[7]),
              let answers = Kind(rawValue: f[9]) else { return nil }
        var s = MoveSignal(kind: kind, from: f[1], job: job, attempt: attempt, ino: ino)
        s.to = f[2]; s.destination = destination; s.extentSize = extentSize; s.renamed = f[8] == "1"
        s.answers = answers; s.ok = f[10] == "1"; s.detail = f[11]
        return s
    }

    /// Extent numbers as an ack's detail: a comma list, or "*" past the payload's room.
    public static func extentList(_ extents: some Collection<Int>) -> String {
        let text = extents.sorted().map(String.init).joined(separator: ",")
        return text.utf8.count < detailLimit ? text : "*"
    }

    /// The extents of an ack's detail; nil for "*" (all of them).
    public var extents: [Int]? {
        detail == "*" ? nil : detail.split(separator: ",").compactMap { Int($0) }
    }
}

extension NodeMembership {
    /// Sends `signal` to every node (itself included: receivers skip their own).
    public func send(_ signal: MoveSignal) throws(IndexError) {
        try session.withLock { s throws(IndexError) in try s.signal(signal.encoded) }
    }

    /// The other nodes whose heartbeat is within the dead time, by the database's clock.
    public func livePeers() throws(IndexError) -> Set<String> {
        try session.withLock { s throws(IndexError) -> Set<String> in
            let now = try s.serverClock()
            return Set(try s.nodes().filter { $0.id != node.id && $0.heartbeat >= now - Int64(deadAfter) }.map(\.id))
        }
    }

    /// Every other node in the registry, alive or not: a node missing from it stopped cleanly
    /// (or was a dead predecessor of a node restarted on its mount point), so it holds nothing.
    public func registeredPeers() throws(IndexError) -> Set<String> {
        try session.withLock { s throws(IndexError) -> Set<String> in Set(try s.nodes().map(\.id)).subtracting([node.id]) }
    }

    /// The live node holding lease `name`, nil when nobody alive holds it.
    public func liveHolder(of name: String) throws(IndexError) -> String? {
        try session.withLock { s throws(IndexError) -> String? in
            let now = try s.serverClock()
            let alive = Set(try s.nodes().filter { $0.heartbeat >= now - Int64(deadAfter) }.map(\.id))
            return try s.leases().first { $0.name == name && alive.contains($0.node) }?.node
        }
    }
}
