import Assimilation
import Config
import ControlProtocol
import FuseKit
import Index
import Logging
import Namespace
import Pool
import Reconcile
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// The composition root of `estuaryfs`: options, logging, config, pool, scan, mount, serve.
public enum DaemonMain {
    public static func run(_ arguments: [String]) -> Int32 {
        let options: DaemonOptions
        do { options = try DaemonOptions.parse(arguments) } catch {
            writeStderr("estuaryfs: \(error)\n\n\(DaemonOptions.usage)\n")
            return 2
        }
        if options.showHelp { writeStderr(DaemonOptions.usage + "\n"); return 0 }
        if options.showVersion { print("estuaryfs \(estuaryVersion)"); return 0 }
        if !options.foreground && !Detach.isChild {
            return Detach.spawnChildAndWait(arguments: absolutised(arguments, options))
        }
        Detach.nameProcess()
        TerminationSignals.block()
        // Modes arrive with the caller's umask applied by the kernel; ours must not apply twice.
        umask(0)
        LogSetup.bootstrap(level: options.debug ? "debug" : options.logLevel)
        let logger = Logger(label: "estuaryfs")
        DescriptorLimit.raise(logger: logger)
        do {
            try serve(options, logger: logger)
            return 0
        } catch {
            // The error is printed once, as a plain line, by reportFailure (here or in the waiting
            // parent); the log file, once there is one, keeps it too.
            LogSink.shared.mirrorWarningsToStderr(false)
            if LogSink.shared.writesToFile { logger.error("\(error)") }
            Detach.reportFailure("estuaryfs: \(error)")
            return 1
        }
    }

    private static func serve(_ options: DaemonOptions, logger: Logger) throws {
        var config: PoolConfig
        do { config = try PoolConfigLoader.load(source: options.source) } catch { throw DaemonError("\(error)") }
        if let index = options.index { config.index = index }
        let policy: ObjectivePolicy
        do { policy = try ObjectivePolicy(config: config) } catch { throw DaemonError("\(error)") }
        let metricsAddress = try DaemonMetrics.address(option: options.metrics, config: config)
        let mountpoint = absolutePath(options.mountpoint)
        try MountPointCheck.prepare(mountpoint) { logger.warning("\($0)") }
        try MountPointCheck.checkSilos(config.silos.map { ($0.name, $0.path) }, mountpoint: mountpoint)
        let paths = PoolPaths(config)
        try PoolContext.makeDirectory(paths.stateDirectory)
        if Detach.isChild {
            LogSink.shared.redirect(toFile: paths.log)
            LogSink.shared.mirrorWarningsToStderr(true)
        }
        let lock = try MountLock.take(config, paths: paths, logger: logger)
        let pool = try PoolContext(config: config, readOnly: options.readOnly)
        let unclean = try IndexHealth.checkAfterUncleanStop(pool, logger: logger)
        for problem in pool.offline { logger.warning("\(problem); it is offline, the other silos keep serving") }
        if pool.offline.count == pool.silos.all.count {
            throw DaemonError("no silo of pool '\(config.name)' can be reached: " + pool.offline.map(\.description).joined(separator: "; "))
        }
        // A shared index: this daemon joins the node registry before it takes up any work
        // (the renames below run under leases).
        let membership: NodeMembership?
        let fence = NodeFence()
        do {
            membership = try pool.index.joinAsNode(host: hostName(), pid: getpid(), mountpoint: mountpoint, deadAfter: config.nodeTimeout,
                                                   fence: fence)
        } catch {
            logger.warning("cannot register in the pool's node registry (\(error)); serving without a heartbeat")
            membership = nil
        }
        // Renames in buckets a stopped daemon left half done finish first: a scan meanwhile
        // would find objects under both names.
        let bucketRenames = BucketRenames(index: pool.index, silos: pool.silos)
        bucketRenames.runAsNode(membership)
        if !options.readOnly { bucketRenames.resume(); bucketRenames.waitUntilDone() }
        // Attribute changes of files in buckets a stopped daemon had not written to their
        // objects yet: after the renames (which move the keys), before a rescan.
        let bucketAttributes = BucketAttributes(index: pool.index, silos: pool.silos)
        if let membership { bucketAttributes.useLeases(hold: { membership.hold($0) }, release: { membership.release($0) }) }
        if !options.readOnly { bucketAttributes.resume(); bucketAttributes.waitUntilDone() }
        if options.scanOnMount {
            let unscanned = try pool.unscannedSilos()
            // After a crash the index may lack the last few milliseconds of namespace changes
            // (group commit); the silos have them, so a rescan before serving brings them back.
            let targets = unclean ? pool.silos.all.filter(\.isOnline) : unscanned
            if !targets.isEmpty {
                logger.info("\(unclean ? "rescan after an unclean stop" : "first scan") of \(targets.map(\.name).joined(separator: ", "))")
                let summary = try Scanner(index: pool.index, silos: pool.silos).scan(targets)
                logger.info("scan done: \(summary.entries) entries in \(summary.seconds)s, \(summary.added) added, \(summary.removed) removed, \(summary.shadowed) shadowed")
                for problem in summary.problems { logger.warning("scan: \(problem)") }
            }
        }
        let namespace = Namespace(index: pool.index, silos: pool.silos, logger: Logger(label: "estuary.namespace"), bucketRenames: bucketRenames,
                                  bucketAttributes: bucketAttributes, fence: fence)
        let kernelCache = KernelInvalidator()
        namespace.useKernelCache(kernelCache)
        let timeouts = CacheTimeouts(entry: options.entryTimeout ?? config.entryTimeout,
                                     attributes: options.attrTimeout ?? config.attrTimeout,
                                     negative: options.negativeTimeout ?? config.negativeTimeout)
        let tiering = TieringService(pool: pool, namespace: namespace, mountpoint: mountpoint)
        let objectives = ObjectiveService(pool: pool, namespace: namespace, mover: tiering.mover, policy: policy, mountpoint: mountpoint)
        let adapter = FuseAdapter(namespace: namespace, timeouts: timeouts, generation: 1, heat: tiering.heat,
                                  foreground: tiering.foreground, checksPermissions: !options.kernelChecksPermissions,
                                  logger: Logger(label: "estuary.fuse"))
        var fuseOptions = options.fuseOptions + (options.kernelChecksPermissions ? ["default_permissions"] : [])
            + ["subtype=estuaryfs", "fsname=\(fsname(config))"]
        if options.debug { fuseOptions.append("debug") }
        let session = try FuseSession(options: fuseOptions, operations: adapter)
        // Listening before the mount answers: whoever sees the mount up (a test's stat, a
        // service's ExecStartPost, a scraper started after it) finds the endpoint there too.
        let metrics = DaemonMetrics(pool: pool, tiering: tiering)
        do { try metrics.start(metricsAddress) } catch { logger.error("\(error); the pool serves without metrics") }
        let useRing = RingSetup.prepare(mode: options.ring, logger: logger)
        try session.mount(at: mountpoint)
        RingSetup.start(session, threads: options.threads, ring: useRing, logger: logger)
        kernelCache.start(session)
        // A shared index: what other nodes commit is dropped from this node's caches and the kernel's.
        let otherNodes: (any IndexListener)?
        // Their moves' signals (gates, holds, switches) go to this node's mover.
        do {
            otherNodes = try pool.index.followOtherWriters({ namespace.changedElsewhere($0) },
                                                           signals: { [mover = tiering.mover] in mover.receive($0) })
        } catch {
            logger.warning("cannot follow other nodes' changes (\(error)); they show here only as the kernel's caches expire")
            otherNodes = nil
        }
        session.installSignalHandlers()
        let control = ControlServer(path: paths.controlSocket, logger: Logger(label: "estuary.control")) { request, send in
            if let refusal = ReadOnlyMount.refusal(request, pool: pool) { return send(refusal) }
            ControlHandlers.handle(request, pool: pool, namespace: namespace, mountpoint: mountpoint, tiering: tiering,
                                   objectives: objectives, transport: { RingSetup.describe(session.ringState) }, send: send)
        }
        do { try control.start() } catch { logger.warning("\(error); admin commands will work on the index directly") }
        MountLock.writeMountRecord(paths.mountRecord, mountpoint: mountpoint)
        logger.info("pool '\(config.name)' mounted at \(mountpoint) with \(pool.silos.all.count) silos")
        LogSink.shared.mirrorWarningsToStderr(false)
        Detach.signalReady()
        lock.recordHolder()
        pool.index.startGroupCommit()
        // Several nodes: one at a time watches the silos and rescans them (the `watch` lease).
        let watch = SiloWatch(pool: pool, namespace: namespace, membership: membership)
        let housekeeping = Housekeeping(namespace: namespace, heat: tiering.heat, index: pool.index) {
            // A batch the index refused (disk full, I/O error): the silos are ahead of the index
            // until a rescan brings it level.
            try watch.rescanAfterLostBatches()
        }
        housekeeping.start()
        // Several nodes: moves run under job leases and one node leads reconcile passes.
        tiering.mover.runAsNode(membership)
        if let membership { objectives.reconciler.lead { membership.hold(LeaseRow.reconcile) } }
        tiering.start()
        objectives.start()
        if !options.readOnly { bucketRenames.followOtherNodes() }
        watch.start()
        // A first scan leaves the name-search indexes out (Scanner): built while the pool serves.
        let searchIndexes = OSThread.start {
            let started = monotonicSeconds()
            do {
                if try pool.index.buildSearchIndexes() {
                    logger.info("name-search indexes built in \(Int((monotonicSeconds() - started) * 1000)) ms")
                }
            } catch {
                logger.warning("cannot build the name-search indexes (\(error)); estuary find reads every row for name tests until a later mount builds them")
            }
        }
        TerminationSignals.unblock()
        let systemd = SystemdNotifier.start(mountpoint: mountpoint, logger: logger)
        let status = session.run(maxThreads: options.threads)
        lock.recordStopping()
        systemd?.stopping()
        let transport = RingSetup.describe(session.ringState)
        // Whatever uses the session's ring or the pool stops before them: the control server
        // first (a status request asks the ring). The mount goes next (it is already gone
        // after an unmount; after a signal it must not linger while the rest stops, or a
        // restart would find the mount point in use), then the background threads.
        control.stop()
        metrics.stop()
        session.stopRing()
        otherNodes?.stop()
        kernelCache.stop()
        session.unmount()
        // Nothing waits out a database that is away from here on: the background threads
        // joined below would hold the stop for `index_timeout` each (up to a day), and what
        // the index does not take now leaves it behind the silos, rescanned at the next mount.
        pool.index.outageWait = 0
        watch.stop()
        objectives.stop()
        tiering.stop()
        bucketRenames.stop()
        // Attribute write-backs already due finish before the daemon goes (those whose bucket
        // cannot be reached stay journaled for the next mount); under a lease, so before leave.
        if !options.readOnly { bucketAttributes.waitUntilDone() }
        // After the mover, the reconciler, the renames and the write-backs: their leases pass
        // on only once they stopped.
        membership?.leave()
        housekeeping.stop()
        searchIndexes.join()
        // A batch the index refused, this last one or an earlier one no rescan has made up for,
        // leaves the silos ahead of the index: only an index that holds every change may let
        // the next mount skip its rescan.
        var indexLevel = true
        do { try pool.index.stopGroupCommit() } catch {
            logger.error("the last namespace changes could not be committed to the index (\(error))")
            indexLevel = false
        }
        if housekeeping.indexBehindSilos { indexLevel = false }
        unlink(paths.mountRecord)
        if indexLevel { IndexHealth.markClean(pool) } else { logger.error("the index lacks namespace changes the silos have; the next mount rescans the silos") }
        logger.info("pool '\(config.name)' unmounted from \(mountpoint) (loop status \(status); requests went through \(transport))")
        withExtendedLifetime(lock) {}
    }

    /// What /proc/mounts shows as the source: the config path, or the spec, made safe for mount tables.
    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        return gethostname(&buffer, buffer.count - 1) == 0 ? String(cString: buffer) : "unknown"
    }

    private static func fsname(_ config: PoolConfig) -> String {
        let cleaned = config.source.map { ($0 == "," || $0 == " " || $0 == "\t" || $0 == "\n") ? "_" : $0 }
        return String(String(cleaned).prefix(200))
    }

    /// The detached child runs in "/", so relative paths are resolved first.
    private static func absolutised(_ arguments: [String], _ options: DaemonOptions) -> [String] {
        arguments.map { arg in
            if arg == options.mountpoint { return absolutePath(arg) }
            if arg == options.source && !arg.contains(":") && !arg.hasPrefix("/") { return absolutePath(arg) }
            return arg
        }
    }
}

func absolutePath(_ path: String) -> String {
    if path.hasPrefix("/") { return normalised(path) }
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    guard getcwd(&buffer, buffer.count) != nil else { return path }
    let cwd = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    return normalised(cwd + "/" + path)
}

private func normalised(_ path: String) -> String {
    var parts: [Substring] = []
    for component in path.split(separator: "/") {
        if component == "." { continue }
        if component == ".." { _ = parts.popLast(); continue }
        parts.append(component)
    }
    return "/" + parts.joined(separator: "/")
}

public let estuaryVersion = estuaryReleaseVersion
