import Index
import Silos
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Walks one silo depth-first, handing each directory's full listing to the queue before
/// descending into it, so the writer always knows a directory before its contents.
/// Every directory is opened relative to its parent's descriptor with O_NOFOLLOW: no path is
/// ever concatenated and no symlink inside the silo is followed.
struct SiloWalker {
    let silo: Silo
    let queue: BlockingQueue<DirectoryBatch>
    let report: @Sendable (ScanProblem) -> Void

    private static let reserved: [UInt8] = Array(".estuary".utf8)

    func run() {
        defer { queue.finishProducer() }
        if !silo.isOnline || !silo.pathStillMatches() {
            // It may have come back, or gone, since the pool was opened.
            do { try silo.attach() } catch {
                report(ScanProblem(silo: silo.name, path: "", message: error.problem))
                return
            }
        }
        let rootFD: Int32
        do { rootFD = try silo.open([], flags: O_RDONLY | O_DIRECTORY) } catch {
            report(ScanProblem(silo: silo.name, path: "", message: SiloError(silo: silo.name, path: silo.path, errno: error).problem))
            return
        }
        let rootStat = try? Sys.fstat(rootFD)
        walk(directory: rootFD, path: [], depth: 0, rootStat: rootStat)
    }

    /// Lists `fd` (which it closes), emits the batch, then recurses into the subdirectories
    /// except those named in `known` (a targeted rescan's directories the index has already).
    /// `depth` is the number of components of `path`.
    func walk(directory fd: Int32, path: [UInt8], depth: Int, rootStat: FileStat? = nil, known: Set<[UInt8]> = []) {
        var stream = DirectoryStream(fd: fd)
        var entries: [ScannedEntry] = []
        var complete = true
        while true {
            let next: DirectoryStream.Entry?
            do { next = try stream.next() } catch {
                report(problem(path, "listing stopped: \(error)"))
                complete = false
                break
            }
            guard let entry = next else { break }
            if path.isEmpty && entry.name.elementsEqual(SiloWalker.reserved) { continue }
            // Past the namespace's reach: reported, and the listing counts as incomplete so
            // that a later scan does not take the entry as gone from here.
            if depth + 1 > Silo.deepestLevel || path.count + 1 + entry.name.count > Silo.longestPath {
                report(problem(childPath(path, Array(entry.name)),
                               "not added: deeper than Estuary serves (\(Silo.deepestLevel) levels, \(Silo.longestPath) bytes of path)"))
                complete = false
                continue
            }
            switch examine(fd, terminated: entry.name, path) {
            case .found(let scanned): entries.append(scanned)
            case .vanished: break
            case .failed: complete = false
            }
        }
        let fd = stream.releaseDescriptor()
        defer { Sys.close(fd) }
        let subdirectories = entries.filter { $0.stat.isDirectory }.map(\.name)
        queue.push(DirectoryBatch(silo: silo.id, path: path, entries: entries, complete: complete, rootStat: rootStat))
        for name in subdirectories where !known.contains(name) {
            let childPath = childPath(path, name)
            let childFD = withCPath(name) { Glibc.openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            if childFD < 0 {
                let e = Errno.current
                report(problem(childPath, "cannot open directory: \(e)"))
                // An unreadable directory still exists; its contents are unknown, so keep them.
                queue.push(DirectoryBatch(silo: silo.id, path: childPath, entries: [], complete: false, rootStat: nil))
                continue
            }
            walk(directory: childFD, path: childPath, depth: depth + 1)
        }
    }

    func childPath(_ parent: [UInt8], _ name: [UInt8]) -> [UInt8] {
        parent.isEmpty ? name : parent + [UInt8(ascii: "/")] + name
    }

    enum Examined { case found(ScannedEntry), vanished, failed }

    /// Stats one entry and reads its target and tags. An entry deleted since the listing is
    /// simply gone; any other failure is reported and leaves the directory's listing incomplete.
    func examine(_ dirFD: Int32, _ name: UnsafeBufferPointer<UInt8>, _ path: [UInt8]) -> Examined {
        withCPath(Array(name)) { examine(dirFD, name, cName: $0, path) }
    }

    /// `examine` of a name that a NUL follows in memory (a getdents64 record's): the syscalls
    /// take it from there, with no C string made per entry.
    func examine(_ dirFD: Int32, terminated name: UnsafeBufferPointer<UInt8>, _ path: [UInt8]) -> Examined {
        examine(dirFD, name, cName: UnsafeRawPointer(name.baseAddress!).assumingMemoryBound(to: CChar.self), path)
    }

    private func examine(_ dirFD: Int32, _ name: UnsafeBufferPointer<UInt8>, cName: UnsafePointer<CChar>, _ path: [UInt8]) -> Examined {
        do throws(Errno) {
            let stat = try Sys.lstatat(dirFD, cName)
            var entry = ScannedEntry(name: Array(name), stat: stat, target: nil, tags: [])
            switch stat.fileType {
            case .symlink: entry.target = try Sys.readlinkat(dirFD, cName)
            case .regular, .directory:
                for tag in try Sys.userXattrs(dirFD, cName) {
                    if tag.name == inodeHintName { entry.inodeHint = UInt64(String(decoding: tag.value, as: UTF8.self)) }
                    else if !tag.name.starts(with: reservedTagPrefix) { entry.tags.append(tag) }
                }
            default: break
            }
            return .found(entry)
        } catch {
            if error == .noSuchFileOrDirectory { return .vanished }
            report(problem(path.isEmpty ? Array(name) : path + [UInt8(ascii: "/")] + Array(name), "\(error)"))
            return .failed
        }
    }

    private func problem(_ path: [UInt8], _ message: String) -> ScanProblem {
        ScanProblem(silo: silo.name, path: displayName(path), message: message)
    }
}
