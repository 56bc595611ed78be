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
    private let state: Mutex<(fd: Int32, device: UInt64, health: SiloHealth)>

    public init(id: Int, name: String, path: String, tier: String, tierRank: Int, order: Int, minFree: UInt64, readOnly: Bool) {
        self.id = id; self.name = name; self.path = path; self.tier = tier; self.tierRank = tierRank
        self.order = order; self.minFree = minFree; self.readOnly = readOnly
        state = Mutex((-1, 0, .offline(reason: "not opened yet")))
    }

    deinit {
        let fd = state.withLock { $0.fd }
        if fd >= 0 { Sys.close(fd) }
    }

    /// Opens the root directory; on failure the silo is offline with the reason, which is also thrown.
    @discardableResult
    public func attach() throws(SiloError) -> Int32 {
        let fd: Int32
        do {
            fd = try Sys.open(path, flags: O_RDONLY | O_DIRECTORY)
        } catch {
            let problem = SiloError(silo: name, path: path, errno: error)
            state.withLock { $0 = (-1, 0, .offline(reason: problem.problem)) }
            throw problem
        }
        let device = (try? Sys.fstat(fd).device) ?? 0
        let old = state.withLock { s -> Int32 in
            let previous = s.fd
            s = (fd, device, .online)
            return previous
        }
        if old >= 0 { Sys.close(old) }
        return fd
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
