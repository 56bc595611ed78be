import Silos
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// How one silo is followed, for `estuary status`.
public struct SiloWatchState: Sendable, Equatable {
    /// `standby`: another node of a shared index holds the watch; this one takes over when
    /// that node dies.
    public enum Mode: Sendable, Equatable { case fanotify, periodic, off, standby }
    public var mode: Mode = .off
    /// Why a silo is rescanned periodically instead of watched.
    public var reason: String?
    public var interval: Int = 0
    /// Seconds from reading the oldest event of the last batch to its changes being in the index.
    public var lastLag: Double?
    /// Wall-clock second of the last change applied, and how many batches were.
    public var lastApplied: Int64?
    public var batches = 0
    public var overflows = 0
    /// When the last periodic sweep began (monotonic seconds): changes made since may be unseen.
    public var lastSweepStarted: Double?

    public init(mode: Mode, reason: String? = nil, interval: Int = 0) { self.mode = mode; self.reason = reason; self.interval = interval }

    public var summary: String {
        switch mode {
        case .fanotify: "watched (fanotify)"
        case .periodic: "rescanned every \(interval) s" + (reason.map { " (\($0))" } ?? "")
        case .off: "off"
        case .standby: "standby" + (reason.map { " (\($0))" } ?? "")
        }
    }
}

/// Follows local silos with one fanotify group: every file system holding a watched silo is
/// marked once, and each event's directory is resolved by handle to a path, kept only when it
/// lies under a silo's root (outside its `.estuary` folder). The daemon's own changes (pid
/// `ownPid`) are already in the index and are dropped on arrival.
///
/// Two threads: one reads events as they come and gathers them by directory and name, the
/// other applies what was gathered, `batchDelay` seconds after the first of it arrived, as one
/// `RescanRequest` per silo. While a batch is applied the reader keeps draining the kernel's
/// queue, so under a flood batches grow with the load instead of the kernel's queue
/// overflowing, and each batch pays its fixed costs (a transaction, the kernel's caches) once
/// for many changes.
public final class SiloWatcher: @unchecked Sendable {
    /// A silo followed by fanotify: where its root is, as resolved paths show it.
    private struct Followed {
        var silo: Silo
        var fsid: UInt64
        var root: [UInt8]
        var device: UInt64
    }

    /// A directory as events name it: its file system and handle.
    private struct Directory: Hashable {
        var fsid: UInt64
        var handle: [UInt8]
    }

    /// Events read and not applied yet: per directory, each name with whether names changed
    /// there (a create, delete or rename rather than data, attributes or xattrs). The empty
    /// name stands for the directory itself.
    private struct Pending {
        var names: [Directory: [[UInt8]: Bool]] = [:]
        var count = 0
        /// When the oldest event still pending was read (monotonic seconds).
        var since: Double?
        /// Why events were lost (the kernel's queue or this one overflowed): the batch is
        /// then a full rescan of every watched silo.
        var lost: String?
    }

    private let group: FanotifyGroup
    private let ownPid = getpid()
    /// Other daemons of the pool on this host: their changes through their mounts are in the
    /// index already, like this daemon's own, and are dropped the same way (`ignore(pids:)`).
    private let poolPids = Mutex<Set<Int32>>([])
    private let batchDelay = 0.1
    /// Names gathered beyond this are dropped for a full rescan, as a kernel queue overflow
    /// would be: the reader's memory stays bounded however long a batch takes.
    /// With an unlimited kernel queue this is the only bound, so its loss path is tested
    /// through a test knob that lowers it.
    private let pendingLimit = getenv("ESTUARY_WATCH_PENDING_LIMIT").flatMap { Int(String(cString: $0)) }.map { max(1, $0) } ?? 2_000_000
    private let apply: @Sendable ([(silo: Silo, request: RescanRequest)], Double) -> Void
    private let lost: @Sendable ([Silo], String) -> Void
    private let followed = Mutex<[Followed]>([])
    private let pending = Mutex(Pending())
    /// The batch being applied: how many names, and when its oldest event was read.
    private let inFlight = Mutex<(count: Int, since: Double)?>(nil)
    /// Rung by the reader when events arrive while none were pending, and by `stop`.
    private let arrived = Doorbell()
    /// Directory handles found outside every silo, kept across batches so that a busy file
    /// system around quiet silos costs one lookup per directory rather than one per event:
    /// the reader drops their events on arrival, so they neither wait in `pending` nor count
    /// as changes behind. Forgotten whenever names may have changed in a silo (the reader
    /// sees a create, delete or rename in a directory not known to be outside): a directory
    /// moved in from outside is then looked up again, and no event of its after the move is
    /// dropped. `generation` counts those forgettings, so that a lookup made before one
    /// does not put back a directory that may have moved in meanwhile. Taken inside
    /// `pending`'s lock when both are.
    private struct Outside {
        var handles = Set<Directory>()
        var generation = 0
    }
    private let outside = Mutex(Outside())
    private let running = Atomic<Bool>(false)
    private let threads = Mutex<[OSThread]>([])

    /// `apply` takes each batch of changes, per silo, with the monotonic time its oldest event
    /// was read; `lost` rescans silos whose events may have been lost (queue overflow, a
    /// remount), saying why.
    public init(apply: @escaping @Sendable ([(silo: Silo, request: RescanRequest)], Double) -> Void,
                lost: @escaping @Sendable ([Silo], String) -> Void) throws(Errno) {
        // A test knob (docs/decisions.md, "Moves at the speed of cp"): the kernel's bounded
        // queue, so that a test can make it overflow.
        group = try FanotifyGroup(unlimited: getenv("ESTUARY_FANOTIFY_BOUNDED") == nil)
        self.apply = apply
        self.lost = lost
    }

    /// Starts following `silo` (again, after it came back); returns why it cannot be, if so.
    public func follow(_ silo: Silo) -> String? {
        do {
            let (fsid, root, device) = try silo.withRoot { fd throws(Errno) -> (UInt64?, [UInt8]?, UInt64) in
                (FanotifyGroup.fsid(of: fd), FanotifyGroup.descriptorPath(fd), try Sys.fstat(fd).device)
            }
            guard let fsid, let root else { return "its root cannot be resolved" }
            // One mark per file system; marking it again after a remount is harmless.
            try group.mark(String(decoding: root, as: UTF8.self))
            followed.withLock {
                $0.removeAll { $0.silo === silo }
                $0.append(Followed(silo: silo, fsid: fsid, root: root, device: device))
            }
            return nil
        } catch {
            return "fanotify cannot follow its file system (\(error))"
        }
    }

    public var followedSilos: [Silo] { followed.withLock { $0.map(\.silo) } }

    /// Changes seen and not in the index yet, for `estuary status`: how many names (events
    /// are not placed in a silo before their batch is applied, so this is for all watched
    /// silos) and when the oldest was read (monotonic seconds); nil when nothing waits.
    public var backlog: (count: Int, since: Double)? {
        let waiting = pending.withLock { p in p.since.map { (count: p.count, since: $0) } }
        guard let applying = inFlight.withLock({ $0 }) else { return waiting }
        return (applying.count + (waiting?.count ?? 0), applying.since)
    }

    /// Drops from now on the events of these processes: the other nodes of the pool on this
    /// host, which record their own changes (merging them again was the same work twice).
    public func ignore(pids: Set<Int32>) { poolPids.withLock { $0 = pids } }

    public func start() {
        running.store(true, ordering: .relaxed)
        let reader = OSThread.start { [self] in read() }
        let applier = OSThread.start { [self] in applyPending() }
        threads.withLock { $0 = [reader, applier] }
    }

    public func stop() {
        running.store(false, ordering: .relaxed)
        group.wake()
        arrived.ring()
        for thread in threads.withLock({ $0 }) { thread.join() }
    }

    /// The reading thread: gathers events into `pending`, a drain at a time.
    private func read() {
        while running.load(ordering: .relaxed) {
            var first = false
            var others = false
            let nodes = poolPids.withLock { $0 }
            let drain = group.read(timeout: 500, skipping: ownPid) { event in
                if !nodes.isEmpty && nodes.contains(event.pid) && !event.overflow { return }
                others = true
                pending.withLock { p in
                    if event.overflow {
                        p.lost = p.lost ?? "the fanotify event queue overflowed"
                    } else if event.pid != ownPid, p.lost == nil {
                        var kept = false
                        outside.withLock { outside in
                            for place in event.places {
                                let directory = Directory(fsid: place.fsid, handle: place.handle)
                                if outside.handles.contains(directory) { continue }
                                kept = true
                                let was = p.names[directory]?[place.name]
                                if was == nil { p.count += 1 }
                                if was != true { p.names[directory, default: [:]][place.name] = event.namesChanged }
                            }
                            if kept && event.namesChanged { outside.handles.removeAll(); outside.generation += 1 }
                        }
                        guard kept else { return }
                        if p.count > pendingLimit {
                            p.lost = "more than \(pendingLimit) changes waited to be applied"
                        }
                    } else {
                        return
                    }
                    if p.lost != nil { p.names = [:]; p.count = 0 }
                    if p.since == nil { p.since = monotonicSeconds(); first = true }
                }
            }
            if first { arrived.ring() }
            if drain == .emptied && running.load(ordering: .relaxed) && (group.unlimited || !others) { usleep(Self.drainPause) }
        }
    }

    /// Microseconds the reader rests after emptying the queue, so that what comes next
    /// arrives in one read rather than one read per event. A file-system mark sees every
    /// process on the file system, and a reader woken for each event made 141,000 reads in
    /// 12 s of a move on a machine where builds shared the silos' file system, on the cores
    /// the copy needed; the daemon's own changes through the mount (one event per create,
    /// rename, unlink, or copy write of a move) wake it as often. Batches are applied 100 ms
    /// after their first event, so the rest adds at most this much to how far behind a
    /// change is. Only an unlimited queue can wait for anyone's events: a bounded one
    /// (16,384 events) could overflow meanwhile on a starved machine and cost a full rescan,
    /// so there the reader rests only after drains of the daemon's own events, as before
    /// (docs/decisions.md, "Metadata against mergerfs's man-page presets", "Moves at the
    /// speed of cp").
    static let drainPause: UInt32 = 20_000

    /// The applying thread: waits for events, lets them gather for `batchDelay`, then applies
    /// everything pending at once. A batch that took longer than that finds the next one due
    /// already, grown with whatever arrived meanwhile.
    private func applyPending() {
        var lastCheck = monotonicSeconds()
        while running.load(ordering: .relaxed) {
            if monotonicSeconds() - lastCheck >= 2 { lastCheck = monotonicSeconds(); remarkRemounted() }
            guard let since = pending.withLock({ $0.since }) else { arrived.wait(seconds: 2); continue }
            let due = since + batchDelay - monotonicSeconds()
            if due > 0 { usleep(UInt32(due * 1_000_000)); continue }
            // Handed over under the lock, so that `backlog` never sees the batch in neither place.
            let batch = pending.withLock { p in
                let taken = p
                p = Pending()
                inFlight.withLock { $0 = (taken.count, since) }
                return taken
            }
            flush(batch)
            inFlight.withLock { $0 = nil }
        }
    }

    /// A silo whose file system was unmounted and mounted again lost its mark with the old
    /// superblock: it is marked again, and what changed meanwhile is the health check's
    /// rescan to find (it took the silo offline and back).
    private func remarkRemounted() {
        for f in followed.withLock({ $0 }) where f.silo.isOnline && f.silo.device != f.device {
            if let problem = follow(f.silo) { lost([f.silo], "it was remounted and cannot be followed again: \(problem)") }
            else { lost([f.silo], "it was remounted") }
        }
    }

    private func flush(_ batch: Pending) {
        let followed = followed.withLock { $0 }
        if let reason = batch.lost {
            lost(followed.map(\.silo), reason)
            return
        }
        var requests: [ObjectIdentifier: (Silo, RescanRequest)] = [:]
        var namesChangedInSilos = false
        outside.withLock { if $0.handles.count > 100_000 { $0.handles.removeAll() } }
        for (directory, names) in batch.names {
            let generation = outside.withLock { $0.generation }
            let location = locate(directory, followed)
            guard case .inside(let index, let path) = location else {
                if case .outside = location {
                    outside.withLock { if $0.generation == generation { $0.handles.insert(directory) } }
                }
                continue
            }
            let silo = followed[index].silo
            var request = requests[ObjectIdentifier(silo)]?.1 ?? RescanRequest()
            var namesChangedHere = false
            for (name, namesChanged) in names {
                if name.isEmpty || name == [UInt8(ascii: ".")] { request.add(entry: path); continue }
                request.add(name: name, in: path)
                namesChangedHere = namesChangedHere || namesChanged
            }
            // The directory's own times changed with its names.
            if namesChangedHere { request.add(entry: path); namesChangedInSilos = true }
            requests[ObjectIdentifier(silo)] = (silo, request)
        }
        if namesChangedInSilos { outside.withLock { $0.handles.removeAll(); $0.generation += 1 } }
        if !requests.isEmpty { apply(requests.values.map { (silo: $0.0, request: $0.1) }, batch.since ?? monotonicSeconds()) }
    }

    /// Where an event's directory is: in a followed silo (its index in `followed`, and the
    /// path relative to the silo's root), outside every silo (or in one's `.estuary` folder),
    /// or unknown (gone, or no silo root on its file system is open now).
    private enum Location { case inside(Int, [UInt8]), outside, unknown }

    private func locate(_ directory: Directory, _ followed: [Followed]) -> Location {
        var path: [UInt8]?
        var opened = false
        for f in followed where f.fsid == directory.fsid && !opened {
            guard let found = try? f.silo.withRoot({ fd throws(Errno) in FanotifyGroup.directoryPath(directory.handle, mountFD: fd) }) else { continue }
            opened = true
            path = found
        }
        guard opened else { return followed.contains { $0.fsid == directory.fsid } ? .unknown : .outside }
        guard let path else { return .unknown }
        for (i, f) in followed.enumerated() where f.fsid == directory.fsid {
            if path == f.root { return .inside(i, []) }
            let slash = f.root == [UInt8(ascii: "/")] ? f.root.count : f.root.count + 1
            guard path.count > slash, path.starts(with: f.root), path[slash - 1] == UInt8(ascii: "/") else { continue }
            let relative = Array(path[slash...])
            if relative == SiloWatcher.reserved || relative.starts(with: SiloWatcher.reserved + [UInt8(ascii: "/")]) { return .outside }
            return .inside(i, relative)
        }
        return .outside
    }

    private static let reserved: [UInt8] = Array(".estuary".utf8)
}
