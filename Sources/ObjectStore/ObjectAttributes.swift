/// The attributes of a file that travel with its object as `x-amz-meta-*`, so a scan of the
/// bucket into a fresh index gives the file back its mode, owner, times, tags and inode
/// number. Objects other clients made carry none of it and get the lister's defaults; an
/// `mtime` in rclone's form (seconds with a fraction) is understood too.
public struct ObjectAttributes: Sendable, Equatable {
    public var mode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    public var mtimeNs: Int64?
    public var atimeNs: Int64?
    public var ino: UInt64?
    public var tags: [(name: [UInt8], value: [UInt8])] = []

    public init(mode: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil, mtimeNs: Int64? = nil, atimeNs: Int64? = nil,
                ino: UInt64? = nil, tags: [(name: [UInt8], value: [UInt8])] = []) {
        self.mode = mode; self.uid = uid; self.gid = gid; self.mtimeNs = mtimeNs; self.atimeNs = atimeNs; self.ino = ino; self.tags = tags
    }

    public static func == (a: ObjectAttributes, b: ObjectAttributes) -> Bool {
        a.mode == b.mode && a.uid == b.uid && a.gid == b.gid && a.mtimeNs == b.mtimeNs && a.atimeNs == b.atimeNs && a.ino == b.ino
            && a.tags.map(\.name) == b.tags.map(\.name) && a.tags.map(\.value) == b.tags.map(\.value)
    }

    /// The metadata to upload: each value printable ASCII (tags percent-encoded as a query
    /// string, so any byte of a name or value survives the header).
    public var metadata: [String: String] {
        var m: [String: String] = [:]
        if let mode { m["mode"] = String(mode & 0o7777, radix: 8) }
        if let uid { m["uid"] = String(uid) }
        if let gid { m["gid"] = String(gid) }
        if let mtimeNs { m["mtime"] = String(mtimeNs) }
        if let atimeNs { m["atime"] = String(atimeNs) }
        if let ino { m["ino"] = String(ino) }
        if !tags.isEmpty {
            m["tags"] = tags.map { ObjectAttributes.encode($0.name) + "=" + ObjectAttributes.encode($0.value) }.joined(separator: "&")
        }
        return m
    }

    /// What a HEAD's metadata says; values that do not parse are left out.
    public init(metadata m: [String: String]) {
        mode = m["mode"].flatMap { UInt32($0, radix: 8) }.map { $0 & 0o7777 }
        uid = m["uid"].flatMap { UInt32($0) }
        gid = m["gid"].flatMap { UInt32($0) }
        mtimeNs = m["mtime"].flatMap(ObjectAttributes.time)
        atimeNs = m["atime"].flatMap(ObjectAttributes.time)
        ino = m["ino"].flatMap { UInt64($0) }
        if let text = m["tags"], !text.isEmpty {
            for pair in text.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty else { continue }
                tags.append((S3Endpoint.decodeStrict(String(parts[0])), S3Endpoint.decodeStrict(String(parts[1]))))
            }
        }
    }

    /// Nanoseconds, from ours (integer nanoseconds) or rclone's (seconds, maybe with a fraction).
    static func time(_ text: String) -> Int64? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = Int64(parts[0]) else { return nil }
        if parts.count == 1 { return whole > 100_000_000_000 ? whole : whole * 1_000_000_000 }
        let digits = String(parts[1].prefix(9))
        guard let fraction = Int64(digits.isEmpty ? "0" : digits) else { return nil }
        var scale: Int64 = 1
        for _ in digits.count..<9 { scale *= 10 }
        return whole * 1_000_000_000 + fraction * scale
    }

    static func encode(_ bytes: [UInt8]) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for b in bytes {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(b)
            default: out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension S3Endpoint {
    /// Percent-decoding without the form rule that `+` is a space (our encoder never writes
    /// `+` bare).
    static func decodeStrict(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for b in text.utf8 { if b == UInt8(ascii: "+") { bytes += Array("%2B".utf8) } else { bytes.append(b) } }
        return decode(String(decoding: bytes, as: UTF8.self))
    }
}
