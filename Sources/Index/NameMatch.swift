/// A test on a name's bytes that the index can answer without looking at every entry: the
/// `entries_by_leaf` and `links_by_leaf` indexes (migration 0007-name-search) seek exact names
/// and prefixes, `entries_by_tail` suffixes of 4 bytes or more; other suffixes and substrings
/// scan the name index's keys, not the rows.
public enum NameMatch: Sendable, Equatable {
    case exact([UInt8])
    case prefix([UInt8])
    case suffix([UInt8])
    case contains([UInt8])

    /// The bytes at the end of a name that `entries_by_tail` keys: a suffix at least this long
    /// seeks that index.
    static let tailLength = 4

    /// Whether `name` passes: what every engine's query must agree with.
    public func holds(_ name: [UInt8]) -> Bool {
        switch self {
        case .exact(let bytes): name == bytes
        case .prefix(let bytes): name.starts(with: bytes)
        case .suffix(let bytes): name.count >= bytes.count && name.suffix(bytes.count).elementsEqual(bytes)
        case .contains(let bytes): bytes.isEmpty || name.withUnsafeBufferPointer { n in
            bytes.withUnsafeBufferPointer { b in NameMatch.find(b, in: n) } }
        }
    }

    /// The first byte string after every string starting with `prefix` (byte order), nil when
    /// there is none (the prefix is all 0xFF): the exclusive upper bound of a prefix seek.
    static func upperBound(ofPrefix prefix: [UInt8]) -> [UInt8]? {
        var bound = prefix
        while let last = bound.last {
            if last < 0xFF { bound[bound.count - 1] = last + 1; return bound }
            bound.removeLast()
        }
        return nil
    }

    private static func find(_ needle: UnsafeBufferPointer<UInt8>, in haystack: UnsafeBufferPointer<UInt8>) -> Bool {
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count) {
            var k = 0
            while k < needle.count && haystack[start + k] == needle[k] { k += 1 }
            if k == needle.count { return true }
        }
        return false
    }
}
