import ArgumentParser
import Config
import Foundation
import Index
import Pool
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Where an index query (`find`, `du`, `tag --recursive`) runs: the pool, its index, the
/// directory it starts from, and where the pool is mounted (if it is).
struct QueryScope {
    var config: PoolConfig
    var indexPath: String
    /// The mount point of the pool, nil when it is not mounted.
    var mountpoint: String?
    /// The start directory relative to the pool root, without a leading slash ("" = the root).
    var relativeRoot: [UInt8]

    /// PATH is a path on a mounted pool, or a pool (config, spec, name) with `root` a
    /// directory inside it ("/sub/dir"); on a mounted pool `root` is taken below PATH.
    static func locate(_ argument: String, root: String? = nil) throws -> QueryScope {
        let mounts = EstuaryMounts.list()
        var scope: QueryScope
        if let resolved = PoolLocator.realPath(argument), let mount = EstuaryMounts.containing(resolved, in: mounts) {
            let config = try PoolLocator.load(PoolLocator.Source(text: mount.source, daemonUser: mount.daemonUser))
            let below = Array(resolved.utf8).dropFirst(mount.mountpoint.utf8.count).drop { $0 == UInt8(ascii: "/") }
            scope = QueryScope(config: config, indexPath: PoolPaths(config).index, mountpoint: mount.mountpoint,
                               relativeRoot: Array(below))
        } else {
            let config = try PoolLocator.config(for: argument)
            scope = QueryScope(config: config, indexPath: PoolPaths(config).index,
                               mountpoint: EstuaryMounts.mountpoint(of: config, in: mounts), relativeRoot: [])
        }
        if let root {
            let joined = (scope.relativeRoot.isEmpty ? [] : scope.relativeRoot + [UInt8(ascii: "/")]) + Array(root.utf8)
            scope.relativeRoot = normalized(joined)
        }
        return scope
    }

    /// Drops empty and "." components and trailing slashes ("a//b/./" -> "a/b").
    static func normalized(_ path: [UInt8]) -> [UInt8] {
        let parts = path.split(separator: UInt8(ascii: "/")).filter { !$0.elementsEqual([UInt8(ascii: ".")]) }
        return Array(parts.joined(separator: [UInt8(ascii: "/")]))
    }

    /// The absolute path of a pool-relative path: under the mount point, or under "/" (the
    /// pool root) when the pool is not mounted.
    func absolute(_ relative: [UInt8]) -> [UInt8] {
        var out = Array((mountpoint ?? "").utf8)
        if out.last == UInt8(ascii: "/") { out.removeLast() }
        if relative.isEmpty { return out.isEmpty ? [UInt8(ascii: "/")] : out }
        out.append(UInt8(ascii: "/"))
        out.append(contentsOf: relative)
        return out
    }

    /// Runs `body` on a read-only snapshot of the index, with the start directory's entry.
    func read<R>(_ body: (ReadTransaction, EntryRow) throws -> R) throws -> R {
        if PoolIndex.isFile(config) {
            do { _ = try Sys.statPath(indexPath) } catch {
                if error == .noSuchFileOrDirectory {
                    throw CommandFailure("pool '\(config.name)' has no index at \(indexPath) yet: mount it or run `estuary scan` first")
                }
                if error == .permissionDenied { throw CommandFailure(DaemonAccess.needsOwner(config, socket: indexPath, what: "the index")) }
                throw CommandFailure("cannot read the index \(indexPath): \(error)")
            }
        }
        do {
            return try ReadTransaction.readOnly(engine: PoolIndex.readOnlyEngine(config)) { tx in
                guard let start = try tx.resolve(path: relativeRoot) else {
                    throw CommandFailure("\(Format.name(absolute(relativeRoot))): not in the index of pool '\(config.name)'")
                }
                return try body(tx, start)
            }
        } catch let error as IndexError {
            throw CommandFailure("cannot read the index \(PoolIndex.location(config)): \(error.message)")
        }
    }
}

/// The estuaryfs mounts in the mount table.
enum EstuaryMounts {
    struct Mount {
        var mountpoint: String
        var source: String
        /// The `user_id=` mount option: the user the daemon runs as.
        var daemonUser: uid_t?
    }

    static func list() -> [Mount] {
        guard let fd = try? Sys.open("/proc/self/mounts", flags: O_RDONLY), let data = try? Sys.readAll(fd) else { return [] }
        Sys.close(fd)
        var mounts: [Mount] = []
        for line in data.split(separator: UInt8(ascii: "\n")) {
            let fields = line.split(separator: UInt8(ascii: " "))
            guard fields.count >= 3, fields[2].elementsEqual("fuse.estuaryfs".utf8) else { continue }
            let options = fields.count > 3 ? fields[3].split(separator: UInt8(ascii: ",")) : []
            let user = options.first { $0.starts(with: "user_id=".utf8) }.flatMap { UInt32(String(decoding: $0.dropFirst(8), as: UTF8.self)) }
            mounts.append(Mount(mountpoint: unescape(fields[1]), source: unescape(fields[0]), daemonUser: user))
        }
        return mounts
    }

    /// The mount table writes space, tab, newline and backslash as octal escapes (\040).
    static func unescape(_ field: some Collection<UInt8>) -> String {
        let bytes = Array(field)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count,
               bytes[(i + 1)...(i + 3)].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }),
               let value = UInt8(String(decoding: bytes[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(value); i += 4
            } else {
                out.append(bytes[i]); i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The deepest estuaryfs mount holding the canonical path `resolved`.
    static func containing(_ resolved: String, in mounts: [Mount]) -> Mount? {
        mounts.filter { resolved == $0.mountpoint || resolved.hasPrefix($0.mountpoint == "/" ? "/" : $0.mountpoint + "/") }
            .max { $0.mountpoint.count < $1.mountpoint.count }
    }

    /// Where the pool of `config` is mounted: the daemon's mount record, if that mount is live;
    /// for a user who may not read the record, the one mount of the same source.
    static func mountpoint(of config: PoolConfig, in mounts: [Mount]) -> String? {
        guard let fd = try? Sys.open(PoolPaths(config).mountRecord, flags: O_RDONLY), let data = try? Sys.readAll(fd, limit: 8192) else {
            let same = mounts.filter { $0.source == config.source }
            return same.count == 1 ? same[0].mountpoint : nil
        }
        Sys.close(fd)
        guard let first = data.split(separator: UInt8(ascii: "\n")).first else { return nil }
        let recorded = String(decoding: first, as: UTF8.self)
        return mounts.contains { $0.mountpoint == recorded } ? recorded : nil
    }
}

/// Parsers for the query options.
enum QueryParsing {
    /// "10G", "500MiB", "4096" (SizeParser's rules: bare letters are binary).
    static func size(_ text: String, option: String) throws -> Int64 {
        do { return Int64(clamping: try SizeParser.parse(text)) } catch {
            throw ValidationError("\(option) '\(text)': not a size (e.g. 4096, 10G, 500MiB)")
        }
    }

    /// Seconds in "90s", "30m", "12h", "30d", "2w", "1y", "1d12h" or a bare number of seconds.
    static func duration(_ text: String, option: String) throws -> Int64 {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800, "y": 31_557_600]
        var total = 0.0
        var number = ""
        var sawAny = false
        for c in text.trimmingCharacters(in: .whitespaces) {
            if c.isASCII && (c.isNumber || c == ".") { number.append(c); continue }
            guard let unit = units[Character(c.lowercased())], let value = Double(number) else {
                throw ValidationError("\(option) '\(text)': not a duration (e.g. 90s, 30m, 12h, 30d, 2w, 1y)")
            }
            total += value * unit; number = ""; sawAny = true
        }
        if !number.isEmpty {
            guard let value = Double(number) else { throw ValidationError("\(option) '\(text)': not a duration") }
            total += value; sawAny = true
        }
        guard sawAny else { throw ValidationError("\(option) '\(text)': not a duration (e.g. 90s, 30m, 12h, 30d, 2w, 1y)") }
        return Int64(total)
    }

    /// A tag key as the user writes it ("project") -> its xattr name ("user.project").
    /// A key already written as "user.project" is taken as it is.
    static func tagName(_ key: String) throws -> [UInt8] {
        guard !key.isEmpty else { throw ValidationError("empty tag name") }
        if key.hasPrefix("user.") { return Array(key.utf8) }
        return Array("user.\(key)".utf8)
    }

    /// "k=v" -> (user.k, v). The value may be empty or hold "=".
    static func tag(_ text: String) throws -> (name: [UInt8], value: [UInt8]) {
        guard let eq = text.firstIndex(of: "=") else { throw ValidationError("'\(text)' is not a tag: write KEY=VALUE") }
        return (try tagName(String(text[..<eq])), Array(text[text.index(after: eq)...].utf8))
    }

    static let tagPrefix = Array("user.".utf8)
    static let reservedPrefix = Array("user.estuary.".utf8)

    /// The tags of an inode as shown to people: names without "user.", Estuary's own attributes left out.
    static func visibleTags(_ xattrs: [(name: [UInt8], value: [UInt8])]) -> [(key: String, value: String)] {
        xattrs.compactMap { x in
            guard x.name.starts(with: tagPrefix), !x.name.starts(with: reservedPrefix) else { return nil }
            return (displayName(x.name.dropFirst(tagPrefix.count)), displayName(x.value))
        }
    }
}

/// Buffered raw output on standard output: paths are bytes, not necessarily UTF-8.
final class RawOutput {
    private var buffer: [UInt8] = []
    init() { buffer.reserveCapacity(1 << 17) }

    func write(_ bytes: some Collection<UInt8>) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { flush() }
    }

    func write(_ text: String) { write(text.utf8) }

    func flush() {
        guard !buffer.isEmpty else { return }
        do { try Sys.writeAll(1, buffer) } catch {
            // A reader that went away (`| head`) ends the command quietly.
            if error == .brokenPipe { exit(0) }
            FileHandle.standardError.write(Data("estuary: cannot write the output: \(error)\n".utf8))
            exit(1)
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

enum JSONText {
    /// A JSON string literal; bytes that are not UTF-8 are shown as \xNN (see `displayName`).
    static func string(_ bytes: some Collection<UInt8>) -> String { string(displayName(bytes)) }

    static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
