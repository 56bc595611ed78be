/// A pool described on the command line instead of in a file:
/// `path[=tier]:path[=tier]...`, e.g. `/a=fast:/b=bulk:/c`.
///
/// A path without `=tier` takes the previous item's tier ("default" for the
/// first). Silos are named after their directory, made unique with "-2", "-3".
/// Errors use file "<spec>", line 1, and the item's 1-based byte offset as column.
public struct ZeroConfigSpec: Sendable, Equatable {
    public static let file = "<spec>"
    public static let defaultTier = "default"

    public struct Item: Sendable, Equatable {
        /// Absolute and normalised.
        public var path: String
        /// As written, or inherited from the item before.
        public var tier: String
        public var siloName: String
        /// 1-based byte offset of the item in the spec.
        public var column: Int
    }

    public let spec: String
    public let items: [Item]

    public init(_ spec: String) throws(ConfigError) {
        self.spec = spec
        guard !spec.isEmpty else { throw Self.error("the spec is empty; expected path[=tier]:path[=tier]...", column: 1) }
        var items: [Item] = []
        var usedNames: Set<String> = []
        let utf8 = spec.utf8
        for piece in utf8.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false) {
            let column = utf8.distance(from: utf8.startIndex, to: piece.startIndex) + 1
            let text = String(decoding: piece, as: UTF8.self)
            let (path, tier) = try Self.parseItem(text, column: column, previousTier: items.last?.tier)
            try Self.checkOverlap(path, column: column, with: items)
            let base = path == "/" ? "root" : ConfigName.sanitised(ConfigPath.lastComponent(path))
            let name = ConfigName.unique(base, avoiding: usedNames)
            usedNames.insert(name)
            items.append(Item(path: path, tier: tier, siloName: name, column: column))
        }
        self.items = items
    }

    /// Tier names in order of first appearance, which is fastest first.
    public var tiers: [String] {
        var tiers: [String] = []
        for item in items where !tiers.contains(item.tier) {
            tiers.append(item.tier)
        }
        return tiers
    }

    /// Every item spelled out as `path=tier`, so equivalent specs agree.
    public var normalised: String {
        items.map { "\($0.path)=\($0.tier)" }.joined(separator: ":")
    }

    /// "zc-" and the FNV-1a 64 hash of the normalised spec: the same silos
    /// and tiers always find the same state directory.
    public var poolName: String {
        "zc-" + FNV1a.hex64(FNV1a.hash64(normalised.utf8))
    }

    private static func parseItem(_ text: String, column: Int, previousTier: String?) throws(ConfigError) -> (String, String) {
        guard !text.isEmpty else {
            throw error("empty item; separate paths with a single ':'", column: column)
        }
        var rawPath = text
        var tier = previousTier ?? defaultTier
        if let equals = text.lastIndex(of: "=") {
            rawPath = String(text[..<equals])
            tier = String(text[text.index(after: equals)...])
            guard ConfigName.isValid(tier) else {
                throw error("tier name '\(tier)' in item '\(text)' is invalid: \(ConfigName.rule)", column: column)
            }
        }
        do {
            return (try ConfigPath.normalised(rawPath), tier)
        } catch {
            throw Self.error("path '\(rawPath)' in item '\(text)' \(ConfigPath.explain(error))", column: column)
        }
    }

    private static func checkOverlap(_ path: String, column: Int, with items: [Item]) throws(ConfigError) {
        for other in items {
            if other.path == path {
                throw error("path '\(path)' is already used by the item at column \(other.column)", column: column)
            }
            if ConfigPath.isWithin(path, other.path) || ConfigPath.isWithin(other.path, path) {
                throw error("path '\(path)' overlaps '\(other.path)' (item at column \(other.column)); silos cannot nest",
                            column: column)
            }
        }
    }

    private static func error(_ message: String, column: Int) -> ConfigError {
        ConfigError(file: file, line: 1, column: column, message: message)
    }
}
