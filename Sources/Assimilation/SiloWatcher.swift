import Silos
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// How one silo is followed, for `estuary status`.
public struct SiloWatchState: Sendable, Equatable {
    public enum Mode: Sendable, Equatable { case fanotify, periodic, off }
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

    public init(mode: Mode, reason: String? = nil, interval: Int = 0) { self.mode = mode; self.reason = reason; self.interval = interval }

    public var summary: String {
        switch mode {
        case .fanotify: "watched (fanotify)"
        case .periodic: "rescanned every \(interval) s" + (reason.map { " (\($0))" } ?? "")
        case .off: "off"
        }
    }
}

/// Follows local silos with one fanotify group: every file system holding a watched silo is
/// marked once, and each event's directory is resolved by handle to a path, kept only when it
/// lies under a silo's root (outside its `.estuary` folder). Events are gathered for
/// `batchDelay` seconds, then handed to `apply` per silo as one `RescanRequest`; the daemon's
/// own changes (pid `ownPid`) are already in the index and are dropped on arrival.
public final class SiloWatcher: @unchecked Sendable {
    /// A silo followed by fanotify: where its root is, as resolved paths show it.
    private struct Followed {
        var silo: Silo
        var fsid: UInt64
        var root: [UInt8]
        var device: UInt64
    }

    private let group: FanotifyGroup
    private let ownPid = getpid()
    private let batchDelay = 0.1
    private let apply: @Sendable ([(silo: Silo, request: RescanRequest)], Double) -> Void
    private let lost: @Sendable ([Silo], String) -> Void
    private let followed = Mutex<[Followed]>([])
    /// Directory handles found outside every silo, kept across batches so that a busy file
    /// system around quiet silos costs one lookup per directory rather than one per event.
    /// Forgotten whenever names change in a silo: a directory moved in from outside is then
    /// looked up again.
    private var outside = Set<[UInt8]>()
    private let running = Atomic<Bool>(false)
    private let thread = Mutex<OSThread?>(nil)

    /// `apply` takes each batch of changes, per silo, with the monotonic time its oldest event
    /// was read; `lost` rescans silos whose events may have been lost (queue overflow, a
    /// remount), saying why.
    public init(apply: @escaping @Sendable ([(silo: Silo, request: RescanRequest)], Double) -> Void,
                lost: @escaping @Sendable ([Silo], String) -> Void) throws(Errno) {
        group = try FanotifyGroup()
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

    public func start() {
        running.store(true, ordering: .relaxed)
        let t = OSThread.start { [self] in run() }
        thread.withLock { $0 = t }
    }

    public func stop() {
        running.store(false, ordering: .relaxed)
        group.wake()
        thread.withLock { $0 }?.join()
    }

    private struct Pending {
        var places: [FanotifyEvent.Place] = []
        var names: [Bool] = []
        var since: Double?
        var overflow = false
    }

    private func run() {
        var pending = Pending()
        var lastCheck = monotonicSeconds()
        while running.load(ordering: .relaxed) {
            let now = monotonicSeconds()
            let wait = pending.since.map { max(0, $0 + batchDelay - now) } ?? 0.2
            group.read(timeout: Int32(wait * 1000)) { event in
                if event.overflow { pending.overflow = true; if pending.since == nil { pending.since = monotonicSeconds() }; return }
                guard event.pid != ownPid else { return }
                if pending.since == nil { pending.since = monotonicSeconds() }
                for place in event.places { pending.places.append(place); pending.names.append(event.namesChanged) }
            }
            if let since = pending.since, monotonicSeconds() >= since + batchDelay || pending.places.count > 50_000 {
                let batch = pending
                pending = Pending()
                flush(batch)
            }
            if monotonicSeconds() - lastCheck >= 2 { lastCheck = monotonicSeconds(); remarkRemounted() }
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
        if batch.overflow {
            lost(followed.map(\.silo), "the fanotify event queue overflowed")
            return
        }
        var requests: [ObjectIdentifier: (Silo, RescanRequest)] = [:]
        var resolved: [[UInt8]: Location] = [:]
        var namesChangedInSilos = false
        if outside.count > 100_000 { outside.removeAll() }
        for (i, place) in batch.places.enumerated() {
            if outside.contains(place.handle) { continue }
            let location: Location
            if let cached = resolved[place.handle] { location = cached } else {
                location = locate(place, followed)
                resolved[place.handle] = location
            }
            guard case .inside(let index, let directory) = location else {
                if case .outside = location { outside.insert(place.handle) }
                continue
            }
            if batch.names[i] { namesChangedInSilos = true }
            let silo = followed[index].silo
            var request = requests[ObjectIdentifier(silo)]?.1 ?? RescanRequest()
            if place.name.isEmpty || place.name == [UInt8(ascii: ".")] {
                request.add(entry: directory)
            } else {
                request.add(name: place.name, in: directory)
                // The directory's own times changed with its names.
                if batch.names[i] { request.add(entry: directory) }
            }
            requests[ObjectIdentifier(silo)] = (silo, request)
        }
        if namesChangedInSilos { outside.removeAll() }
        if !requests.isEmpty { apply(requests.values.map { (silo: $0.0, request: $0.1) }, batch.since ?? monotonicSeconds()) }
    }

    /// Where an event's directory is: in a followed silo (its index in `followed`, and the
    /// path relative to the silo's root), outside every silo (or in one's `.estuary` folder),
    /// or unknown (gone, or no silo root on its file system is open now).
    private enum Location { case inside(Int, [UInt8]), outside, unknown }

    private func locate(_ place: FanotifyEvent.Place, _ followed: [Followed]) -> Location {
        var path: [UInt8]?
        var opened = false
        for f in followed where f.fsid == place.fsid && !opened {
            guard let found = try? f.silo.withRoot({ fd throws(Errno) in FanotifyGroup.directoryPath(place.handle, mountFD: fd) }) else { continue }
            opened = true
            path = found
        }
        guard opened else { return followed.contains { $0.fsid == place.fsid } ? .unknown : .outside }
        guard let path else { return .unknown }
        for (i, f) in followed.enumerated() where f.fsid == place.fsid {
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
