import Config

/// Where a pool keeps its state: the index, the control socket, the lock and the daemon's log.
public struct PoolPaths: Sendable {
    public let stateDirectory: String
    public init(_ config: PoolConfig) { stateDirectory = config.stateDirectory }
    public var index: String { stateDirectory + "/index.db" }
    /// The PostgreSQL URI a pool's index was last opened at (see `PoolIndex`).
    public var indexRecord: String { stateDirectory + "/index.uri" }
    public var controlSocket: String { stateDirectory + "/control.sock" }
    public var lock: String { stateDirectory + "/lock" }
    public var log: String { stateDirectory + "/estuaryfs.log" }
    public var mountRecord: String { stateDirectory + "/mount" }
}
