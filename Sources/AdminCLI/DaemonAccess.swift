import Config
import ControlProtocol
import Pool
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Whether this user can talk to a pool's daemon, and if not, why, in words that are true.
///
/// The control socket and the state directory are private to the daemon's user (root for a
/// pool mounted by root). Another user connecting gets EACCES: the pool is mounted, but the
/// command needs that user. Only ENOENT and ECONNREFUSED mean no daemon runs.
enum DaemonAccess {
    enum Reach {
        case answering(LineSocket)
        /// A daemon may run, but this user may not reach it; the sentence says which user can.
        case forbidden(String)
        case absent
    }

    static func reach(_ config: PoolConfig) -> Reach {
        let path = PoolPaths(config).controlSocket
        switch LineSocket.attempt(path: path) {
        case .connected(let socket): return .answering(socket)
        case .refused(let code) where code == EACCES || code == EPERM: return .forbidden(needsOwner(config, socket: path))
        case .refused: return .absent
        }
    }

    /// "needs root: the control socket … is root-only", or the user it belongs to.
    static func needsOwner(_ config: PoolConfig, socket path: String, what: String = "the control socket") -> String {
        let owner = (try? Sys.statPath(path))?.uid ?? (try? Sys.statPath(config.stateDirectory))?.uid
        let mountpoint = EstuaryMounts.mountpoint(of: config, in: EstuaryMounts.list())
        let pool = mountpoint.map { "pool '\(config.name)' is mounted at \(Format.name($0)), but this command" } ?? "pool '\(config.name)': this command"
        let who: String
        switch owner {
        case 0?, nil: who = "needs root: \(what) \(Format.name(path)) is root-only"
        case let uid?: who = "needs user \(DuCommand.userName(uid)): \(what) \(Format.name(path)) is theirs only"
        }
        return "\(pool) \(who) (you are \(DuCommand.userName(geteuid())))"
    }

    /// An offline command that writes the index must be run by the pool's owner: say so before
    /// SQLite answers "attempt to write a readonly database".
    static func checkWritable(_ config: PoolConfig) throws {
        guard let status = try? Sys.statPath(config.stateDirectory), status.uid != geteuid(), geteuid() != 0 else { return }
        throw CommandFailure(needsOwner(config, socket: PoolPaths(config).controlSocket))
    }
}

extension PoolLocator {
    /// Sends `request` and hands every reply line to `handle`; returns the final reply. A daemon
    /// busy with many clients is asked again, a few times, before giving up.
    static func call(_ socket: LineSocket, _ request: ControlRequest, progress: (ScanProgressReport) -> Void = { _ in }) throws -> ControlReply {
        var socket = socket
        for attempt in 0..<40 {
            do { return try callOnce(socket, request, progress: progress) } catch let failure as CommandFailure where failure.description.hasPrefix("too many control clients") {
                usleep(UInt32(100_000 * min(attempt + 1, 10)))
                guard let again = LineSocket.connect(path: socket.path) else { throw failure }
                socket = again
            }
        }
        return try callOnce(socket, request, progress: progress)
    }

    private static func callOnce(_ socket: LineSocket, _ request: ControlRequest, progress: (ScanProgressReport) -> Void) throws -> ControlReply {
        guard socket.send(line: ControlCoding.encode(request)) else { throw CommandFailure("the daemon closed its control socket") }
        while let line = socket.readLine() {
            let reply = try ControlCoding.decode(ControlReply.self, from: line)
            if let p = reply.progress { progress(p); continue }
            if let error = reply.error { throw CommandFailure(Format.text(error)) }
            return reply
        }
        throw CommandFailure("the daemon hung up before answering")
    }
}
