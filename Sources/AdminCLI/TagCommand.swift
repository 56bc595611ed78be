import ArgumentParser
import CShims
import Foundation
import Index
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// `estuary tag`: sets and removes tags (user.KEY xattrs) through the mount, which keeps them
/// in the index and on the backing files.
struct TagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag",
        abstract: "Set or remove tags (user.KEY=VALUE) on files of a mounted pool.",
        discussion: """
        estuary tag PATH KEY=VALUE...           set tags on PATH
        estuary tag -d KEY PATH                 remove tag KEY (repeatable: -d a -d b)
        estuary tag -r DIR KEY=VALUE            DIR and every file and directory below it, listed from the index
        estuary find ... --print0 | estuary tag --from - KEY=VALUE
                                                paths from standard input, NUL- or newline-separated
        The tags go through the mount (setxattr), so the pool must be mounted. Removing a tag a \
        file does not carry is an error for a single PATH and skipped with -r or --from.
        """)

    @Argument(help: ArgumentHelp("PATH, then KEY=VALUE tags to set; with --from, only the tags.", valueName: "PATH|KEY=VALUE"))
    var arguments: [String] = []
    @Option(name: [.customShort("d"), .customLong("delete")], help: ArgumentHelp("Remove tag KEY (repeatable).", valueName: "KEY"))
    var delete: [String] = []
    @Flag(name: [.short, .long], help: "Also every file and directory below a directory (listed from the index).")
    var recursive = false
    @Option(help: ArgumentHelp("Read the paths from FILE ('-' = standard input), NUL- or newline-separated.", valueName: "FILE"))
    var from: String?
    @Flag(name: [.short, .long], help: "Print every path changed.") var verbose = false

    func validate() throws {
        let tags = from == nil ? Array(arguments.dropFirst()) : arguments
        if from == nil && arguments.isEmpty { throw ValidationError("give a PATH (or --from FILE)") }
        if tags.isEmpty && delete.isEmpty { throw ValidationError("nothing to do: give KEY=VALUE tags to set or -d KEY to remove") }
        for t in tags { try Self.checkName(try QueryParsing.tag(t).name) }
        for k in delete { try Self.checkName(try QueryParsing.tagName(k)) }
    }

    static func checkName(_ name: [UInt8]) throws {
        if name.starts(with: QueryParsing.reservedPrefix) {
            throw ValidationError("\(Format.name(name)) is Estuary's own attribute, not a tag (pins: estuary pin / unpin)")
        }
        if name.count <= QueryParsing.tagPrefix.count { throw ValidationError("empty tag name") }
    }

    func run() throws {
        let set = try (from == nil ? Array(arguments.dropFirst()) : arguments).map { try QueryParsing.tag($0) }
        let remove = try delete.map { try QueryParsing.tagName($0) }
        var paths: [[UInt8]]
        if let from {
            let data: [UInt8]
            if from == "-" { data = try Self.readAll(0, what: "standard input") } else {
                let fd: Int32
                do { fd = try Sys.open(from, flags: O_RDONLY) } catch { throw CommandFailure("\(from): \(error)") }
                defer { Sys.close(fd) }
                data = try Self.readAll(fd, what: from)
            }
            let separator = data.contains(0) ? 0 : UInt8(ascii: "\n")
            paths = data.split(separator: separator, omittingEmptySubsequences: true).map(Array.init)
        } else {
            paths = [Array(arguments[0].utf8)]
        }
        var applier = Applier(set: set, remove: remove, strict: from == nil && !recursive, verbose: verbose)
        for path in paths {
            if recursive, (try? Self.status(path))?.isDirectory == true {
                try applyRecursively(path, &applier)
            } else {
                applier.apply(path)
            }
        }
        let what = (set.map { "set \(Format.name($0.name.dropFirst(5)))=\(Format.name($0.value))" }
                    + remove.map { "removed \(Format.name($0.dropFirst(5)))" }).joined(separator: ", ")
        print("\(what) on \(Format.count(applier.changed)) path(s)" + (applier.failed > 0 ? "; \(Format.count(applier.failed)) failed" : ""))
        if applier.failed > 0 { throw ExitCode(1) }
    }

    /// Every regular file and directory under `path` (itself included), from the index, tagged
    /// through the mount.
    private func applyRecursively(_ path: [UInt8], _ applier: inout Applier) throws {
        let scope = try QueryScope.locate(String(decoding: path, as: UTF8.self))
        guard scope.mountpoint != nil else { throw CommandFailure("\(Format.name(path)) is not on a mounted Estuary pool") }
        try scope.read { tx, start in
            try tx.walk(under: start.ino, includeRoot: true, links: false) { entry in
                guard entry.row.kind == .regular || entry.row.kind == .directory else { return }
                applier.apply(scope.absolute(entry.path))
            }
        }
    }

    struct Applier {
        let set: [(name: [UInt8], value: [UInt8])]
        let remove: [[UInt8]]
        let strict: Bool
        let verbose: Bool
        var changed = 0
        var failed = 0

        mutating func apply(_ path: [UInt8]) {
            var problem: String?
            withCPath(path) { cpath in
                for tag in set {
                    let rc = withCPath(tag.name) { name in tag.value.withUnsafeBytes { estuary_lsetxattr(cpath, name, $0.baseAddress, $0.count, 0) } }
                    if rc != 0 { let e = Errno.current; problem = "cannot set \(Format.name(tag.name.dropFirst(5))): \(e)"; return }
                }
                if !remove.isEmpty {
                    // removexattr follows a final symlink, and symlinks carry no tags: never follow one.
                    var s = Glibc.stat()
                    if lstat(cpath, &s) != 0 { problem = "\(Errno.current)"; return }
                    if s.st_mode & S_IFMT == S_IFLNK { problem = "a symlink carries no tags"; return }
                }
                for name in remove {
                    if withCPath(name, { estuary_removexattr(cpath, $0) }) != 0 {
                        let e = Errno.current
                        if e == .noData && !strict { continue }
                        problem = e == .noData ? "has no tag \(Format.name(name.dropFirst(5)))" : "cannot remove \(Format.name(name.dropFirst(5))): \(e)"
                        return
                    }
                }
            }
            if let problem {
                failed += 1
                FileHandle.standardError.write(Data("estuary: \(Format.name(path)): \(problem)\n".utf8))
            } else {
                changed += 1
                if verbose { print(Format.name(path)) }
            }
        }
    }

    static func status(_ path: [UInt8]) throws(Errno) -> FileStat {
        try withCPath(path) { cpath throws(Errno) in
            var s = Glibc.stat()
            if stat(cpath, &s) != 0 { throw Errno.current }
            return FileStat(s)
        }
    }

    static func readAll(_ fd: Int32, what: String) throws -> [UInt8] {
        do { return try Sys.readAll(fd, limit: 1 << 34) } catch { throw CommandFailure("cannot read \(what): \(error)") }
    }
}
