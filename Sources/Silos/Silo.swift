import Synchronization
import Syscalls
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
/// `openat2(RESOLVE_BENEATH)`, so nothing a silo contains can lead outside it.
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
    private let state: Mutex<(fd: Int32, device: UInt64, inode: UInt64, health: SiloHealth)>
    /// Set once the silo has been scanned: from then on a missing marker means the wrong directory.
    private let markerExpected: Mutex<Bool>
    private let drainingFlag = Atomic<Bool>(false)

    /// A draining silo takes no new files; its files are being moved off.
    public var draining: Bool {
        get { drainingFlag.load(ordering: .relaxed) }
    }
    public func setDraining(_ on: Bool) { drainingFlag.store(on, ordering: .relaxed) }

    public init(id: Int, name: String, path: String, tier: String, tierRank: Int, order: Int, minFree: UInt64, readOnly: Bool,
                pool: String = "", markerExpected: Bool = false) {
        self.id = id; self.name = name; self.path = path; self.tier = tier; self.tierRank = tierRank
        self.order = order; self.minFree = minFree; self.readOnly = readOnly; self.pool = pool
        state = Mutex((-1, 0, 0, .offline(reason: "not opened yet")))
        self.markerExpected = Mutex(markerExpected)
    }

    deinit {
        let fd = state.withLock { $0.fd }
        if fd >= 0 { Sys.close(fd) }
    }

    /// Opens the root directory and checks its marker; on failure the silo is offline with the
    /// reason, which is also thrown. A silo seen for the first time gets its marker written.
    @discardableResult
    public func attach() throws(SiloError) -> Int32 {
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
        let old = state.withLock { s -> Int32 in
            let previous = s.fd
            s = (fd, stat?.device ?? 0, stat?.inode ?? 0, .online)
            return previous
        }
        if old >= 0 { Sys.close(old) }
        markerExpected.withLock { $0 = $0 || !readOnly }
        return fd
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
        if isOnline {
            if !pathStillMatches() {
                let problem = SiloError(silo: name, path: path, problem: "its directory went away (unmounted or replaced)")
                _ = goOffline(problem)
                return .wentOffline(problem.problem)
            }
            let fd = rootFD
            do { _ = try SiloMarker.read(fd) } catch {
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

    private func goOffline(_ problem: SiloError) -> SiloError {
        let old = state.withLock { s -> Int32 in
            let previous = s.fd
            s = (-1, 0, 0, .offline(reason: problem.problem))
            return previous
        }
        if old >= 0 { Sys.close(old) }
        return problem
    }

    /// Whether the path still names the directory the silo holds open: false when it was
    /// unmounted, moved or replaced since `attach`.
    public func pathStillMatches() -> Bool {
        let (fd, device, inode) = state.withLock { ($0.fd, $0.device, $0.inode) }
        guard fd >= 0, let now = try? Sys.statPath(path) else { return false }
        return now.device == device && now.inode == inode
    }

    public var health: SiloHealth { state.withLock { $0.health } }
    public var isOnline: Bool { state.withLock { $0.fd >= 0 } }
    /// The file system device of the root, to count each underlying file system once.
    public var device: UInt64 { state.withLock { $0.device } }

    /// The root descriptor, or EIO when the silo is offline.
    @inlinable
    public func rootDescriptor() throws(Errno) -> Int32 {
        let fd = rootFD
        if fd < 0 { throw Errno.ioError }
        return fd
    }

    @usableFromInline var rootFD: Int32 { state.withLock { $0.fd } }

    /// Opens `relativePath` (no leading slash; empty means the root) beneath the root.
    public func open(_ relativePath: [UInt8], flags: Int32, mode: UInt32 = 0) throws(Errno) -> Int32 {
        let root = try rootDescriptor()
        if relativePath.isEmpty { return try Sys.openBeneath(root, Array(".".utf8), flags: flags, mode: mode) }
        return try Sys.openBeneath(root, relativePath, flags: flags, mode: mode)
    }

    public func statfs() throws(Errno) -> statvfs { try Sys.fstatvfs(try rootDescriptor()) }

    /// Bytes an unprivileged writer could still store on the silo's file system; 0 when offline.
    public var availableBytes: UInt64 {
        guard let s = try? statfs() else { return 0 }
        return UInt64(s.f_bavail) * UInt64(s.f_frsize == 0 ? s.f_bsize : s.f_frsize)
    }
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
