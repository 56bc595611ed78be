import CFuse3
import CFuseRing
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Why a session could not start.
public struct FuseError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// The io_uring transport of a session.
public struct RingState: Sendable, Equatable {
    public var active: Bool
    public var queues: Int
    public var threadsPerQueue: Int
    public var requests: UInt64
    /// Why a ring thread failed, when one did (the session then serves /dev/fuse).
    public var failure: String?
}

/// A low-level libfuse session: options, mount, the multithreaded loop, unmount.
///
/// Lifecycle: init → mount → run (blocks until unmounted, signalled, or `exit`) → unmount.
/// `fuse_session_exit` alone does not wake workers blocked on /dev/fuse; an unmount does.
public final class FuseSession: @unchecked Sendable {
    private let session: OpaquePointer
    private let dispatcher: Dispatcher
    private var arguments: [UnsafeMutablePointer<CChar>?]
    public private(set) var mountpoint: String?
    private var signalsInstalled = false
    /// The io_uring transport while it runs, then what it was when it stopped: `ringState` may be
    /// asked from any thread (the control socket's status), and must never reach a freed ring.
    private let ring = Mutex<(running: OpaquePointer?, final: RingState?)>((nil, nil))

    /// `options` are mount options as for `-o` (e.g. "allow_other", "default_permissions", "fsname=x").
    public init(options: [String], operations: any FuseOperations, debug: Bool = false) throws(FuseError) {
        let dispatcher = Dispatcher(operations)
        self.dispatcher = dispatcher
        var argv = ["estuaryfs"]
        for option in options where !option.isEmpty { argv += ["-o", option] }
        if debug { argv.append("-d") }
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var ops = makeOperationsTable()
        let created: OpaquePointer? = cArguments.withUnsafeMutableBufferPointer { argvBuffer in
            var args = fuse_args(argc: Int32(argv.count), argv: argvBuffer.baseAddress, allocated: 0)
            return fuse_session_new(&args, &ops, MemoryLayout<fuse_lowlevel_ops>.size,
                                    Unmanaged.passUnretained(dispatcher).toOpaque())
        }
        arguments = cArguments
        guard let created else {
            cArguments.forEach { free($0) }
            throw FuseError(message: "libfuse refused the options \(options.joined(separator: ","))")
        }
        session = created
    }

    deinit {
        stopRing()
        if signalsInstalled { fuse_remove_signal_handlers(session) }
        fuse_session_destroy(session)
        arguments.forEach { free($0) }
    }

    public func mount(at path: String) throws(FuseError) {
        guard fuse_session_mount(session, path) == 0 else {
            throw FuseError(message: "cannot mount at \(path)")
        }
        mountpoint = path
    }

    /// SIGINT, SIGTERM and SIGHUP end the loop; the caller then unmounts.
    public func installSignalHandlers() {
        if fuse_set_signal_handlers(session) == 0 { signalsInstalled = true }
    }

    /// Serves requests until the file system is unmounted or the session exits. Returns 0 on a clean end.
    public func run(maxThreads: Int, cloneFD: Bool = true) -> Int32 {
        guard let config = fuse_loop_cfg_create() else { return -1 }
        defer { fuse_loop_cfg_destroy(config) }
        fuse_loop_cfg_set_max_threads(config, UInt32(maxThreads))
        fuse_loop_cfg_set_idle_threads(config, UInt32(max(4, maxThreads / 2)))
        fuse_loop_cfg_set_clone_fd(config, cloneFD ? 1 : 0)
        return fuse_session_loop_mt(session, config)
    }

    public func exit() { fuse_session_exit(session) }

    /// Serves requests through FUSE over io_uring: `threadsPerQueue` threads for each CPU, each
    /// pinned to its CPU, so a request is answered on the CPU that made it. `maxWrite` must be
    /// what the operations' init sets (it sizes the buffers). With 0 threads requests stay on
    /// /dev/fuse, and only the INIT flags libfuse 3.14 cannot ask for are added (see
    /// `ConnectionInfo.allowSharedMappingsOfDirectIO`). Call after `mount` and before `run`. Returns nil when started, or why io_uring cannot be used (the session
    /// then serves /dev/fuse alone). Whether the kernel took it is known only after its INIT:
    /// see `ringState`.
    public func startRing(threadsPerQueue: Int, maxWrite: UInt32) -> String? {
        var why = [CChar](repeating: 0, count: 256)
        let userdata = Unmanaged.passUnretained(dispatcher).toOpaque()
        let session = self.session
        let started = ring.withLock { ring -> Bool in
            guard ring.running == nil else { return true }
            ring.running = estuary_ring_start(UnsafeMutableRawPointer(session), userdata, UInt32(max(0, threadsPerQueue)),
                                              Int(maxWrite), &why, why.count)
            return ring.running != nil
        }
        return started ? nil : String(decoding: why.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The io_uring transport: whether the kernel accepted it, its shape, and requests served;
    /// after `stopRing`, what it was when it stopped.
    public var ringState: RingState? {
        ring.withLock { ring in ring.running.flatMap(FuseSession.state(of:)) ?? ring.final }
    }

    private static func state(of ring: OpaquePointer) -> RingState? {
        guard estuary_ring_threads_per_queue(ring) > 0 else { return nil }
        var why = [CChar](repeating: 0, count: 256)
        let failed = estuary_ring_failure(ring, &why, why.count) != 0
        return RingState(active: estuary_ring_active(ring) != 0, queues: Int(estuary_ring_queues(ring)),
                         threadsPerQueue: Int(estuary_ring_threads_per_queue(ring)), requests: estuary_ring_requests(ring),
                         failure: failed ? String(decoding: why.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil)
    }

    /// Ends the ring threads; call once the loop has returned. The ring is freed under the
    /// lock `ringState` takes, so no reader can be inside it.
    public func stopRing() {
        ring.withLock { ring in
            guard let running = ring.running else { return }
            ring.final = FuseSession.state(of: running)
            estuary_ring_stop(running)
            ring.running = nil
        }
    }

    public func unmount() {
        guard mountpoint != nil else { return }
        fuse_session_unmount(session)
        mountpoint = nil
    }

    /// Tells the kernel to drop its cached entry `name` in `parent` (positive or negative).
    /// Returns 0 or a negative errno (-ENOENT: the kernel holds no such entry).
    @discardableResult
    public func invalidateEntry(parent: UInt64, name: [UInt8]) -> Int32 {
        withCPath(name) { fuse_lowlevel_notify_inval_entry(session, fuse_ino_t(parent), $0, name.count) }
    }

    /// Tells the kernel to drop the cached attributes of `ino`, and its cached pages too when
    /// `contents` is set. Attributes alone take no page locks, so this is safe inside a request.
    @discardableResult
    public func invalidateInode(_ ino: UInt64, contents: Bool) -> Int32 {
        fuse_lowlevel_notify_inval_inode(session, fuse_ino_t(ino), contents ? 0 : -1, 0)
    }
}
