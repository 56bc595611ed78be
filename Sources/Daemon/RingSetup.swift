import FuseKit
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Whether and how the daemon serves requests through FUSE over io_uring (`-o io_uring=`).
enum RingMode: String, Equatable {
    /// Use io_uring when the kernel has it; turn on the fuse module's `enable_uring` when root.
    case auto
    /// Stay on /dev/fuse.
    case off
}

enum RingSetup {
    static let parameter = "/sys/module/fuse/parameters/enable_uring"

    /// Before the mount: the kernel decides at mount time, when it sends INIT, whether to offer
    /// io_uring. Returns whether to start the ring once mounted.
    static func prepare(mode: RingMode, logger: Logger) -> Bool {
        mode == .auto && kernelAllows(logger: logger)
    }

    /// Before the loop runs on a mounted session: starts the ring when `ring` is set, or logs
    /// why not. Without it the session's I/O hooks are still installed, for the INIT flags
    /// libfuse 3.14 cannot ask for.
    static func start(_ session: FuseSession, threads: Int, ring: Bool, logger: Logger) {
        // Each thread holds one request at a time; a request that waits on a slow silo holds its
        // thread, so each CPU keeps several, within the total the loop would have had.
        let cpus = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_CONF))))
        let perQueue = ring ? min(8, max(2, threads / cpus)) : 0
        guard let why = session.startRing(threadsPerQueue: perQueue, maxWrite: FuseAdapter.maxWrite) else { return }
        if ring {
            logger.info("requests go through /dev/fuse: io_uring could not start (\(why))")
        } else {
            logger.info("read-write handles keep the page cache: the session's I/O hooks could not start (\(why))")
        }
    }

    /// One line for logs and `estuary status`.
    static func describe(_ state: RingState?) -> String {
        guard let state else { return "/dev/fuse" }
        if let failure = state.failure, !state.active { return "/dev/fuse (io_uring failed: \(failure))" }
        guard state.active else { return "/dev/fuse (the kernel did not take io_uring)" }
        return "io_uring, \(state.queues) queues × \(state.threadsPerQueue) threads, \(state.requests) request\(state.requests == 1 ? "" : "s")"
    }

    /// The kernel offers io_uring to a FUSE daemon only while the fuse module's parameter is on.
    /// It is off by default; it lets daemons ask for io_uring and changes nothing for others.
    private static func kernelAllows(logger: Logger) -> Bool {
        guard let value = readParameter() else {
            logger.info("requests go through /dev/fuse: this kernel has no FUSE over io_uring")
            return false
        }
        if value == "Y" { return true }
        guard geteuid() == 0 else {
            logger.info("requests go through /dev/fuse: \(parameter) is off (root can turn it on)")
            return false
        }
        let fd = open(parameter, O_WRONLY | O_CLOEXEC)
        let written = fd >= 0 && write(fd, "Y", 1) == 1
        if fd >= 0 { close(fd) }
        guard written, readParameter() == "Y" else {
            logger.info("requests go through /dev/fuse: cannot turn on \(parameter)")
            return false
        }
        logger.notice("turned on \(parameter) so requests can go through io_uring (-o io_uring=off keeps /dev/fuse)")
        return true
    }

    private static func readParameter() -> String? {
        let fd = open(parameter, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var byte: UInt8 = 0
        return read(fd, &byte, 1) == 1 ? String(decoding: [byte], as: UTF8.self) : nil
    }
}
