/// Everything a placement objective may look at for one file. The index fills
/// it in; the objective code never touches the file system itself, so rules
/// can be evaluated (and explained) from the index alone.
public struct FileFacts: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case file, directory, symlink, fifo, socket, other
    }

    /// The path relative to the mount root, with a leading "/": "/a/b/c.mkv".
    public var path: String
    public var name: String
    public var kind: Kind
    public var size: Int64
    public var uid: UInt32
    public var gid: UInt32
    /// Seconds since the epoch.
    public var atime: Int64
    public var mtime: Int64
    public var ctime: Int64
    public var heat: Double
    /// Tag values keyed by the xattr name without its "user." prefix.
    public var tags: [String: String]
    public var pinned: Bool
    public var tier: String
    public var silo: String

    /// `name` defaults to the last component of `path`, which is what it
    /// always is for a real file; tests and callers rarely need to repeat it.
    public init(path: String, name: String? = nil, kind: Kind = .file, size: Int64 = 0,
                uid: UInt32 = 0, gid: UInt32 = 0, atime: Int64 = 0, mtime: Int64 = 0, ctime: Int64 = 0,
                heat: Double = 0, tags: [String: String] = [:], pinned: Bool = false,
                tier: String = "", silo: String = "") {
        self.path = path
        self.name = name ?? String(path.split(separator: "/", omittingEmptySubsequences: true).last ?? "")
        self.kind = kind
        self.size = size
        self.uid = uid
        self.gid = gid
        self.atime = atime
        self.mtime = mtime
        self.ctime = ctime
        self.heat = heat
        self.tags = tags
        self.pinned = pinned
        self.tier = tier
        self.silo = silo
    }
}
