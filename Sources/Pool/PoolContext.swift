import Config
import Index
import Silos
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// A pool opened for use: its configuration, state directory, index and attached silos.
/// Both the daemon and the offline admin commands start here.
public final class PoolContext: Sendable {
    public let config: PoolConfig
    public let paths: PoolPaths
    public let index: IndexStore
    public let silos: SiloSet
    /// Silos that could not be attached, with the reason; they are offline, the rest serve.
    public let offline: [SiloError]
    /// Opened for a read-only mount: every silo is read-only, so nothing writes to any of them
    /// (not even the marker a first attach writes). The index is still written.
    public let readOnly: Bool

    /// Opens the index (creating the state directory) and attaches every silo.
    public init(config: PoolConfig, readOnly: Bool = false) throws {
        self.config = config
        self.readOnly = readOnly
        paths = PoolPaths(config)
        try PoolContext.makeDirectory(config.stateDirectory)
        let index: IndexStore
        let engine = PoolIndex.engine(config)
        do { index = try IndexStore(engine: engine) } catch {
            // PostgreSQL's messages start with the location (never with a password) already.
            let prefix = engine.location + ": "
            let message = error.message.hasPrefix(prefix) ? String(error.message.dropFirst(prefix.count)) : error.message
            throw PoolError("cannot open the index \(engine.location): \(message)" +
                            (error.isCorrupt ? ". It is damaged; move it aside and run `estuary scan` to rebuild it." : ""))
        }
        try PoolIndex.record(config)
        // A database server may restart or drop off the network: calls wait for it a while.
        if engine.isShared { index.outageWait = config.indexTimeout }
        self.index = index
        let tierRank = Dictionary(uniqueKeysWithValues: config.tiers.enumerated().map { ($1, $0) })
        let ids = try index.write { tx throws(IndexError) in
            try config.silos.map { silo throws(IndexError) in try tx.registerSilo(name: silo.name, path: silo.path, tier: silo.tier) }
        }
        let scanned = Set(try index.query { tx throws(IndexError) in try tx.silos() }.filter { $0.scanGeneration > 0 }.map(\.id))
        var silos: [Silo] = []
        var offline: [SiloError] = []
        for (order, (silo, id)) in zip(config.silos, ids).enumerated() {
            let s = Silo(id: id, name: silo.name, path: silo.path, tier: silo.tier, tierRank: tierRank[silo.tier] ?? order,
                         order: order, minFree: silo.minFree, readOnly: silo.readOnly || readOnly, pool: config.name,
                         // From the config, not the mount: a silo that has its marker still must.
                         markerExpected: scanned.contains(id) && !silo.readOnly,
                         bucket: silo.bucket.map { ObjectSiloSpec(endpoint: $0.endpoint, bucket: $0.bucket, prefix: $0.prefix, region: $0.region,
                                                                  credentialsFile: $0.credentialsFile, addressing: $0.addressing) })
            do { try s.attach() } catch { offline.append(error) }
            silos.append(s)
        }
        self.silos = SiloSet(silos)
        self.offline = offline
        let health = silos.map { ($0.id, $0.health) }
        try index.write { tx throws(IndexError) in
            for (id, h) in health { try tx.setHealth(silo: id, health: h.label, reason: h.reason) }
        }
    }

    /// Silos never scanned into this index: a first mount scans them before serving.
    public func unscannedSilos() throws -> [Silo] {
        let rows = try index.query { tx throws(IndexError) in try tx.silos() }
        return silos.all.filter { silo in silo.isOnline && (rows.first { $0.id == silo.id }?.scanGeneration ?? 0) == 0 }
    }

    public static func makeDirectory(_ path: String) throws {
        var built = ""
        for component in path.split(separator: "/") {
            built += "/" + component
            if mkdir(built, 0o700) != 0 {
                let e = Errno.current
                if e != .fileExists { throw PoolError("cannot create state directory \(built): \(e)") }
            }
        }
        guard (try? Sys.statPath(path))?.isDirectory == true else {
            throw PoolError("state directory \(path) is not a directory")
        }
        do { try StateDirectory.makePrivate(path) } catch { throw PoolError(error.description) }
    }
}
