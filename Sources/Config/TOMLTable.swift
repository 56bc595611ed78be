/// A TOML table whose keys keep document order, so that checks run in the
/// order a reader of the file would expect and report the first problem first.
public struct TOMLTable: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var key: String
        /// Where the key itself (its last dotted part) is written.
        public var keyPosition: TOMLPosition
        public var value: TOMLValue

        public init(key: String, keyPosition: TOMLPosition, value: TOMLValue) {
            self.key = key
            self.keyPosition = keyPosition
            self.value = value
        }
    }

    /// The `[` of the table's header; the `{` of an inline table; the first
    /// key that created a dotted-key table; 1:1 for the document root.
    public var position: TOMLPosition
    public private(set) var entries: [Entry] = []
    private var indexByKey: [String: Int] = [:]

    public init(position: TOMLPosition = TOMLPosition(line: 1, column: 1)) {
        self.position = position
    }

    public var line: Int { position.line }
    public var column: Int { position.column }
    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var keys: [String] { entries.map(\.key) }

    public subscript(key: String) -> TOMLValue? {
        entry(key)?.value
    }

    public func entry(_ key: String) -> Entry? {
        guard let index = indexByKey[key] else { return nil }
        return entries[index]
    }

    /// Adds or replaces a key; a replaced key keeps its original place.
    public mutating func set(_ key: String, _ value: TOMLValue, keyPosition: TOMLPosition) {
        let entry = Entry(key: key, keyPosition: keyPosition, value: value)
        if let index = indexByKey[key] {
            entries[index] = entry
        } else {
            indexByKey[key] = entries.count
            entries.append(entry)
        }
    }
}
