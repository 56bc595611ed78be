import Index
import Silos
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// The cheap half of an incremental rescan: walks one silo's directories only (names and
/// types from getdents, one fstatat per directory, nothing per file) and says which changed
/// since they were last seen. A directory whose names changed has a new ctime; the caller
/// relists those whole (`RescanRequest.addDirectory`).
///
/// Used where events cannot be had or may have been missed: after the daemon was restarted
/// (compared with the index) and, for silos fanotify cannot follow, every rescan interval
/// (compared with the previous sweep). A file rewritten in place in a directory whose names
/// did not change is not found this way; the open-time freshness check covers it.
public struct DirectorySweep {
    public let silo: Silo

    public init(silo: Silo) { self.silo = silo }

    /// Directory ctimes by path, as the walk found them.
    public typealias Times = [[UInt8]: Int64]

    /// The directories that changed: against `previous` when given, else against the index
    /// rows this silo gives their attributes to (any other directory counts as changed).
    public func changed(since previous: Times?, index: IndexStore) -> (changed: RescanRequest, times: Times) {
        var times: Times = [:]
        guard let rootFD = try? silo.open([], flags: O_RDONLY | O_DIRECTORY) else { return (RescanRequest(), [:]) }
        if let stat = try? Sys.fstat(rootFD) { times[[]] = stat.ctimeNs }
        walk(rootFD, path: [], depth: 0, into: &times)
        var request = RescanRequest()
        if let previous {
            for (path, ctime) in times where previous[path] != ctime { request.addDirectory(path); request.add(entry: path) }
            return (request, times)
        }
        let s = silo.id
        let indexed: Times = (try? index.query { tx throws(IndexError) -> Times in
            var rows: Times = [:]
            for path in times.keys {
                let row = path.isEmpty ? try tx.entry(1) : try tx.resolve(path: path)
                if let row, row.kind == .directory, row.silo == s { rows[path] = row.ctimeNs }
            }
            return rows
        }) ?? [:]
        // The directory's own entry too: its times are in its parent's listing.
        for (path, ctime) in times where indexed[path] != ctime { request.addDirectory(path); request.add(entry: path) }
        return (request, times)
    }

    private func walk(_ fd: Int32, path: [UInt8], depth: Int, into times: inout Times) {
        guard depth < Silo.deepestLevel else { Sys.close(fd); return }
        var stream = DirectoryStream(fd: fd)
        var subdirectories: [[UInt8]] = []
        while let entry = try? stream.next() {
            if path.isEmpty && entry.name.elementsEqual(".estuary".utf8) { continue }
            if entry.type == UInt8(DT_DIR) || entry.type == UInt8(DT_UNKNOWN) { subdirectories.append(Array(entry.name)) }
        }
        let dirFD = stream.releaseDescriptor()
        for name in subdirectories {
            let child = withCPath(name) { Glibc.openat(dirFD, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard child >= 0 else { continue }
            let childPath = path.isEmpty ? name : path + [UInt8(ascii: "/")] + name
            guard childPath.count <= Silo.longestPath else { Sys.close(child); continue }
            if let stat = try? Sys.fstat(child) { times[childPath] = stat.ctimeNs }
            walk(child, path: childPath, depth: depth + 1, into: &times)
        }
        Sys.close(dirFD)
    }
}
