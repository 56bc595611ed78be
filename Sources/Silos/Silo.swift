import ObjectStore
import Synchronization
import Syscalls
import CShims
#if canImport(Glibc)
import Glibc
#endif

/// Whether a silo can be used right now, and why not.
public enum SiloHealth: Sendable, Equatable {
    case online
    case offline(reason: String)

    public var label: String { if case .online = self { "online" } else { "offline" } }
    public var reason: String? { if case .offline(let r) = self { r } else { nil } }
}

/// One backend directory tree. Every access goes through its root descriptor with
/// `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, so nothing a silo contains can lead
/// outside it, or to another place inside it.
public final class Silo: Sendable {
    public let id: Int
    public let name: String
    public let path: String
    public let tier: String
    /// Position of the tier in the pool's order, 0 fastest.
    public let tierRank: Int
    /// Position of the silo in the configuration: breaks ties between same-named files.
    public let order: Int
    public let minFree: UInt64
    public let readOnly: Bool
    /// The pool this silo belongs to, as its marker records it.
    public let pool: String
    /// The open root (nil while offline) and the health. Users of the root take a reference to
    /// it under the lock and use its descriptor outside it; see `RootDirectory`.
    private let state: Mutex<(root: RootDirectory?, health: SiloHealth)>
    /// Set once the silo has been scanned: from then on a missing marker means the wrong directory.
    private let markerExpected: Mutex<Bool>
    private let drainingFlag = Atomic<Bool>(false)
    /// Set when the silo is a bucket (`kind = "s3"`): it has no root directory, its files are
    /// objects read with ranged GETs, and data reaches it only by tier moves.
    public let bucket: ObjectBucket?
    public var isObjectStore: Bool { bucket != nil }

    /// A draining silo takes no new files; its files are being moved off.
    public var draining: Bool {
        get { drainingFlag.load(ordering: .relaxed) }
    }
    public func setDraining(_ on: Bool) { drainingFlag.store(on, ordering: .relaxed) }

    public init(id: Int, name: String, path: String, tier: String, tierRank: Int, order: Int, minFree: UInt64, readOnly: Bool,
                pool: String = "", markerExpected: Bool = false, bucket: ObjectSiloSpec? = nil) {
        self.bucket = bucket.map(ObjectBucket.init)
        self.id = id; self.name = name; self.path = path; self.tier = tier; self.tierRank = tierRank
        self.order = order; self.minFree = minFree; self.readOnly = readOnly; self.pool = pool
        state = Mutex((nil, .offline(reason: "not opened yet")))
        self.markerExpected = Mutex(markerExpected)
    }

    /// Opens the root directory and checks its marker; on failure the silo is offline with the
    /// reason, which is also thrown. A silo seen for the first time gets its marker written.
    public func attach() throws(SiloError) {
        if let bucket {
            do { try bucket.connect() } catch { throw goOffline(SiloError(silo: name, path: path, problem: error.description)) }
            state.withLock { $0 = (nil, .online) }
            return
        }
        let fd: Int32
        do {
            fd = try Sys.open(path, flags: O_RDONLY | O_DIRECTORY)
        } catch {
            throw goOffline(SiloError(silo: name, path: path, errno: error))
        }
        do {
            try checkMarker(fd)
        } catch {
            Sys.close(fd)
            throw goOffline(error)
        }
        let stat = try? Sys.fstat(fd)
        let root = RootDirectory(fd: fd, device: stat?.device ?? 0, inode: stat?.inode ?? 0)
        // The root this replaces (if any) closes when its last user lets go.
        state.withLock { $0 = (root, .online) }
        markerExpected.withLock { $0 = $0 || !readOnly }
    }

    private func checkMarker(_ fd: Int32) throws(SiloError) {
        let marker: (pool: String, silo: String)?
        do { marker = try SiloMarker.read(fd) } catch {
            throw SiloError(silo: name, path: path, problem: "its marker \(SiloMarker.file) cannot be read: \(error)")
        }
        if let marker {
            guard marker.pool == pool && marker.silo == name else {
                throw SiloError(silo: name, path: path, problem: "the directory belongs to silo '\(marker.silo)' of pool '\(marker.pool)'" +
                                " (a zero-config pool's name changes with its spec: give the pool a fixed name in a TOML" +
                                " config, or delete \(SiloMarker.file) to hand the directory to this pool)")
            }
            return
        }
        if markerExpected.withLock({ $0 }) {
            throw SiloError(silo: name, path: path, problem: "its marker \(SiloMarker.file) is missing; is the disk mounted? " +
                            "(if this directory replaced the silo on purpose, run `estuary scan POOL --silo \(name) --adopt`)")
        }
        if readOnly { return }
        do { try SiloMarker.write(fd, pool: pool, silo: name) } catch {
            throw SiloError(silo: name, path: path, problem: "cannot write its marker \(SiloMarker.file): \(error)")
        }
    }

    /// Forgets that a marker was expected, so the next attach adopts the directory as the silo.
    public func adopt() { markerExpected.withLock { $0 = false } }

    public enum Probe: Sendable, Equatable {
        case healthy
        case wentOffline(String)
        case cameBack
        case stillOffline
    }

    /// The health check: an online silo whose path no longer names its directory (unmounted,
    /// replaced) or whose marker cannot be read (a failing disk) goes offline; an offline one
    /// whose directory is back, with its marker, comes online.
    public func probe() -> Probe {
        if let bucket { return probeBucket(bucket) }
        if isOnline {
            if !pathStillMatches() {
                let problem = SiloError(silo: name, path: path, problem: "its directory went away (unmounted or replaced)")
                _ = goOffline(problem)
                return .wentOffline(problem.problem)
            }
            do { _ = try withRoot { fd throws(Errno) in try SiloMarker.read(fd) } } catch {
                if error == .ioError || error == .staleNFSFileHandle || error == .socketNotConnected || error == .noSuchFileOrDirectory {
                    let problem = SiloError(silo: name, path: path, problem: "reading its root failed: \(error)")
                    _ = goOffline(problem)
                    return .wentOffline(problem.problem)
                }
            }
            return .healthy
        }
        do { try attach(); return .cameBack } catch { return .stillOffline }
    }

    /// Drops the silo's reference to its root: a walk or open running on another thread keeps
    /// the descriptor it holds until it finishes, and new ones get EIO.
    /// A bucket is healthy while it answers a one-key listing; throttling is not an outage.
    private func probeBucket(_ bucket: ObjectBucket) -> Probe {
        guard isOnline else {
            do { try attach(); return .cameBack } catch { return .stillOffline }
        }
        do { try bucket.client?.checkBucket() } catch {
            if error.kind == .server && error.retryable && error.status != 500 { return .healthy }
            let problem = SiloError(silo: name, path: path, problem: error.description)
            _ = goOffline(problem)
            return .wentOffline(problem.problem)
        }
        return .healthy
    }

    func goOffline(_ problem: SiloError) -> SiloError {
        state.withLock { $0 = (nil, .offline(reason: problem.problem)) }
        return problem
    }

    /// Whether the path still names the directory the silo holds open: false when it was
    /// unmounted, moved or replaced since `attach`.
    public func pathStillMatches() -> Bool {
        if bucket != nil { return isOnline }
        guard let root = state.withLock({ $0.root }), let now = try? Sys.statPath(path) else { return false }
        return now.device == root.device && now.inode == root.inode
    }

    public var health: SiloHealth { state.withLock { $0.health } }
    public var isOnline: Bool { state.withLock { if case .online = $0.health { true } else { false } } }
    /// The file system device of the root, to count each underlying file system once.
    public var device: UInt64 { state.withLock { $0.root?.device ?? 0 } }

    /// Runs `body` with the root descriptor, which stays open until `body` returns even if the
    /// silo goes offline meanwhile; EIO when it is offline now. The descriptor must not be kept
    /// past `body`.
    public func withRoot<R>(_ body: (Int32) throws(Errno) -> R) throws(Errno) -> R {
        guard let root = state.withLock({ $0.root }) else { throw Errno.ioError }
        defer { withExtendedLifetime(root) {} }
        return try body(root.fd)
    }

    /// Opens `relativePath` (no leading slash; empty means the root) beneath the root, of any
    /// length (see `Sys.openBeneath`). No symlink is followed on the way: a path from the index
    /// names directories, and a symlink where a silo should have a directory (a shadowed
    /// conflict, or one planted behind the daemon's back) would lead somewhere else in the
    /// namespace; it fails with ELOOP instead. A final symlink opens only with O_PATH|O_NOFOLLOW.
    public func open(_ relativePath: [UInt8], flags: Int32, mode: UInt32 = 0) throws(Errno) -> Int32 {
        try withRoot { root throws(Errno) in
            try Sys.openBeneath(root, relativePath.isEmpty ? Silo.dot : relativePath, flags: flags, mode: mode,
                                resolve: ESTUARY_RESOLVE_NO_SYMLINKS)
        }
    }

    private static let dot: [UInt8] = [UInt8(ascii: ".")]

    /// The deepest entry the namespace serves, in levels below a silo's root and in bytes of
    /// its path there (`Namespace.relativePath` refuses longer ones with ENAMETOOLONG). Far
    /// past PATH_MAX, as backing opens walk long paths in steps; the bound keeps a hostile
    /// tree from costing unbounded memory and time. A scan reports entries past it rather
    /// than adding what no open could reach.
    public static let deepestLevel = 2048
    public static let longestPath = 65535

    public func statfs() throws(Errno) -> statvfs { try withRoot { fd throws(Errno) in try Sys.fstatvfs(fd) } }

    /// Bytes an unprivileged writer could still store on the silo's file system; 0 when offline.
    public var availableBytes: UInt64 {
        guard let s = try? statfs() else { return 0 }
        return UInt64(s.f_bavail) * UInt64(s.f_frsize == 0 ? s.f_bsize : s.f_frsize)
    }
}

/// A silo's open root directory, owned by reference. The silo holds one while online; every
/// use of the descriptor holds one too (`Silo.withRoot`), so a silo going offline or
/// re-attaching on another thread drops only its own reference, and the descriptor is closed
/// once, by whoever lets go last: never while a walk or an open still uses its number, which
/// the kernel could meanwhile hand to an unrelated file.
final class RootDirectory: Sendable {
    let fd: Int32
    /// Device and inode of the directory when it was opened, to notice it was replaced.
    let device: UInt64
    let inode: UInt64

    init(fd: Int32, device: UInt64, inode: UInt64) { self.fd = fd; self.device = device; self.inode = inode }

    deinit { Sys.close(fd) }
}

/// Why a silo cannot be used, in words that name the silo and its path.
public struct SiloError: Error, CustomStringConvertible, Sendable {
    public var silo: String
    public var path: String
    public var problem: String

    public init(silo: String, path: String, problem: String) { self.silo = silo; self.path = path; self.problem = problem }

    public init(silo: String, path: String, errno: Errno) {
        let problem: String = switch errno {
        case .noSuchFileOrDirectory: "the path does not exist"
        case .notDirectory: "the path is not a directory"
        case .permissionDenied: "the directory cannot be read (permission denied)"
        default: "cannot be opened: \(errno)"
        }
        self.init(silo: silo, path: path, problem: problem)
    }

    public var description: String { "silo '\(silo)' (\(path)): \(problem)" }
}
