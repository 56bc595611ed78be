/// One directory that stores part of the pool.
public struct SiloConfig: Sendable, Equatable {
    public var name: String
    /// Absolute and normalised: no trailing slash, no empty or "." components.
    public var path: String
    public var tier: String
    /// Bytes to keep free on the silo's file system.
    public var minFree: UInt64
    public var readOnly: Bool
    /// Follow changes made in the silo behind the mount (`watch = false` turns it off).
    public var watch: Bool = true
    /// The line of the silo's `[[silo]]` header; nil when it came from a spec.
    public var line: Int?

    public init(name: String, path: String, tier: String, minFree: UInt64 = 0, readOnly: Bool = false, line: Int? = nil) {
        self.name = name
        self.path = path
        self.tier = tier
        self.minFree = minFree
        self.readOnly = readOnly
        self.line = line
    }
}
