import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// What a program sees of one entry: stat fields, symlink target, user xattrs and (for small
/// files) the content. Paths and names are raw bytes.
struct SeenEntry: Equatable, CustomStringConvertible {
    var kind: FileKind
    var mode: UInt32
    var uid: UInt32
    var gid: UInt32
    var size: Int64
    var mtimeNs: Int64
    var nlink: UInt64
    var target: [UInt8]?
    var xattrs: [[UInt8]: [UInt8]]
    var content: [UInt8]?
    var inode: UInt64

    /// Equality of what the mount must reproduce (inode numbers and directory link counts differ by design).
    func matches(_ other: SeenEntry) -> Bool {
        kind == other.kind && mode == other.mode && uid == other.uid && gid == other.gid && mtimeNs == other.mtimeNs
            && target == other.target && xattrs == other.xattrs && content == other.content
            && (kind == .directory || (size == other.size && nlink == other.nlink))
    }

    var description: String {
        "\(kind) mode=\(String(mode, radix: 8)) uid=\(uid) gid=\(gid) size=\(size) mtime=\(mtimeNs) nlink=\(nlink) target=\(target.map { displayName($0) } ?? "-") xattrs=\(xattrs.count) content=\(content?.count ?? -1)"
    }
}

/// Walks a directory tree with raw syscalls (no Foundation: names need not be UTF-8).
enum TreeSnapshot {
    static let contentLimit: Int64 = 1 << 20

    static func take(_ root: String, skipReserved: Bool = false) throws -> [[UInt8]: SeenEntry] {
        var result: [[UInt8]: SeenEntry] = [:]
        let fd = try Sys.open(root, flags: O_RDONLY | O_DIRECTORY)
        try walk(fd, prefix: [], into: &result, skipReserved: skipReserved)
        return result
    }

    private static func walk(_ fd: Int32, prefix: [UInt8], into result: inout [[UInt8]: SeenEntry], skipReserved: Bool) throws {
        var stream = DirectoryStream(fd: fd)
        var subdirectories: [[UInt8]] = []
        while let entry = try stream.next() {
            let name = Array(entry.name)
            if skipReserved && prefix.isEmpty && name == Array(".estuary".utf8) { continue }
            let path = prefix.isEmpty ? name : prefix + [UInt8(ascii: "/")] + name
            let seen = try withCPath(name) { cName throws -> SeenEntry in try examine(fd, cName) }
            result[path] = seen
            if seen.kind == .directory { subdirectories.append(name) }
        }
        for name in subdirectories {
            let child = withCPath(name) { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            if child < 0 { throw Errno.current }
            try walk(child, prefix: prefix.isEmpty ? name : prefix + [UInt8(ascii: "/")] + name, into: &result, skipReserved: skipReserved)
        }
    }

    static func examine(_ dirFD: Int32, _ name: UnsafePointer<CChar>) throws -> SeenEntry {
        let s = try Sys.lstatat(dirFD, name)
        var seen = SeenEntry(kind: s.fileType, mode: s.mode, uid: s.uid, gid: s.gid, size: s.size, mtimeNs: s.mtimeNs,
                             nlink: s.nlink, target: nil, xattrs: [:], content: nil, inode: s.inode)
        switch s.fileType {
        case .symlink:
            seen.target = try Sys.readlinkat(dirFD, name)
        case .regular, .directory:
            for tag in try Sys.userXattrs(dirFD, name) where !tag.name.starts(with: Array("user.estuary.".utf8)) {
                seen.xattrs[tag.name] = tag.value
            }
            if s.fileType == .regular && s.size <= contentLimit {
                let fd = openat(dirFD, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
                if fd < 0 { throw Errno.current }
                defer { close(fd) }
                seen.content = try Sys.readAll(fd)
            }
        default: break
        }
        return seen
    }

    /// The namespace Estuary should show for `silos` (in configuration order): directories
    /// merged with attributes from the first silo holding them; for a file in several silos the
    /// newest mtime, ties to the first silo; a directory wins over a file of the same name.
    static func expectedMerge(_ silos: [[[UInt8]: SeenEntry]]) -> [[UInt8]: SeenEntry] {
        var merged: [[UInt8]: SeenEntry] = [:]
        for silo in silos {
            for (path, entry) in silo {
                guard let existing = merged[path] else { merged[path] = entry; continue }
                switch (existing.kind == .directory, entry.kind == .directory) {
                case (true, _): continue
                case (false, true): merged[path] = entry
                case (false, false): if entry.mtimeNs > existing.mtimeNs { merged[path] = entry }
                }
            }
        }
        // A path survives only if every ancestor is a directory in the merge.
        return merged.filter { path, _ in
            var prefix: [UInt8] = []
            for component in path.split(separator: UInt8(ascii: "/")).dropLast() {
                prefix = prefix.isEmpty ? Array(component) : prefix + [UInt8(ascii: "/")] + component
                if merged[prefix]?.kind != .directory { return false }
            }
            return true
        }
    }
}
