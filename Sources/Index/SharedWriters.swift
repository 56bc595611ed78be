/// What an index shared by several daemons (PostgreSQL, issue 16 part 3) needs beyond the
/// engine seam: inode numbers reserved from the one counter every writer shares, and the
/// changes each writer commits published to the others, who drop what they cached of them.
///
/// An engine that only one daemon writes at a time (SQLite: the pool lock) keeps the defaults:
/// not shared, nothing published, no listener.
extension IndexEngine {
    public var isShared: Bool { false }
    public func openListener() throws(IndexError) -> (any IndexListener)? { nil }
}

/// Receives what other writers committed, on a thread of its own, until `stop`.
public protocol IndexListener: AnyObject, Sendable {
    /// Calls `handler` with each payload another writer published (see `IndexStore.publish`),
    /// or with nil when notifications may have been missed (the connection was lost): then
    /// everything cached must be read again.
    func start(_ handler: @escaping @Sendable (String?) -> Void)
    func stop()
}

extension IndexSession {
    /// Takes `count` inode numbers from the counter every writer shares, at or above
    /// `minimum`, and returns the first. Inside the write transaction; SQLite's write lock
    /// makes the read and the write one step (a server engine overrides it with one statement).
    func reserveInodes(from minimum: UInt64, count: UInt64) throws(IndexError) -> UInt64 {
        let next = max(try meta("next_ino").flatMap { UInt64($0) } ?? 2, minimum)
        try setMeta("next_ino", String(next + count))
        return next
    }

    /// Sends `payload` to every listener when the transaction commits. Nothing by default.
    func publish(_ payload: String) throws(IndexError) {}
}

/// Changes another writer committed: inodes whose rows changed or went, and names added or
/// removed in directories. `everything`: notifications were missed, read all again.
public struct RemoteChange: Sendable {
    public var inodes: [UInt64] = []
    public var names: [(parent: UInt64, name: [UInt8])] = []
    public var everything = false

    /// The payload format: `<writer id>;<ino>,<ino>…;<parent>/<hex name>,…`, or
    /// `<writer id>;*` when the batch touched too much to list (then everything is read again).
    static func encode(writer: UInt64, inodes: [UInt64], names: [(UInt64, [UInt8])], limit: Int = 7_000) -> String {
        var text = String(writer, radix: 16) + ";"
        text += inodes.map { String($0, radix: 16) }.joined(separator: ",")
        text += ";"
        let hex: [Character] = Array("0123456789abcdef")
        text += names.map { parent, name in
            String(parent, radix: 16) + "/" + String(name.flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] })
        }.joined(separator: ",")
        return text.utf8.count <= limit ? text : String(writer, radix: 16) + ";*"
    }

    /// The change in `payload` and the writer that sent it; nil when it is not one.
    static func decode(_ payload: String) -> (writer: UInt64, change: RemoteChange)? {
        let parts = payload.split(separator: ";", omittingEmptySubsequences: false)
        guard parts.count >= 2, let writer = UInt64(parts[0], radix: 16) else { return nil }
        var change = RemoteChange()
        if parts[1] == "*" { change.everything = true; return (writer, change) }
        change.inodes = parts[1].split(separator: ",").compactMap { UInt64($0, radix: 16) }
        if parts.count > 2 {
            for item in parts[2].split(separator: ",") {
                let pair = item.split(separator: "/", omittingEmptySubsequences: false)
                guard pair.count == 2, let parent = UInt64(pair[0], radix: 16), pair[1].utf8.count % 2 == 0 else { continue }
                var bytes: [UInt8] = []
                var digits = pair[1].utf8.makeIterator()
                while let high = digits.next(), let low = digits.next() {
                    guard let h = hexValue(high), let l = hexValue(low) else { break }
                    bytes.append(h << 4 | l)
                }
                change.names.append((parent, bytes))
            }
        }
        return (writer, change)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}

extension IndexStore {
    /// Delivers what other writers of a shared index commit to `handler`, on the listener's
    /// thread, until the returned listener is stopped; its own batches are skipped. Returns nil
    /// (and delivers nothing) for an engine only one daemon writes.
    /// Move signals between nodes (MoveSignals.swift) go to `signals`, the node's own included.
    public func followOtherWriters(_ handler: @escaping @Sendable (RemoteChange) -> Void,
                                   signals: (@Sendable (MoveSignal) -> Void)? = nil) throws(IndexError) -> (any IndexListener)? {
        guard engine.isShared, let listener = try engine.openListener() else { return nil }
        let own = writer.withLock { $0.writerID }
        listener.start { payload in
            guard let payload else { return handler(RemoteChange(everything: true)) }
            if let signal = MoveSignal.decode(payload) { signals?(signal); return }
            guard let (from, change) = RemoteChange.decode(payload), from != own else { return }
            handler(change)
        }
        return listener
    }
}
