import CShims
import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `estuary find`, `du` and `tag` against a model of what the silos hold: files of many sizes,
/// ages, tags and tiers written into the silos before the first mount, queried from the index.
@Suite(.serialized)
struct QueryTests {
    /// One file (or directory) written into a silo, as the queries must see it.
    struct ModelFile {
        var path: [UInt8]            // relative to the pool root
        var silo: String
        var tier: String
        var size: Int64
        var mtime: Int
        var tags: [String: String]   // without "user."
        var isDirectory = false
    }

    static let day = 86_400
    static let rawName: [UInt8] = [0x6e, 0x61, 0xef, 0xff, 0x76, 0x65]   // "na\xef\xffve", not UTF-8

    /// Writes the model into the silos of `pool` (sizes by ftruncate, mtimes by utimensat, tags
    /// as user.* xattrs on the backing files, which the first scan imports).
    static func populate(_ pool: TestPool) throws -> [ModelFile] {
        let now = Int(Date().timeIntervalSince1970)
        let tiers = Dictionary(uniqueKeysWithValues: pool.silos.map { ($0.name, $0.tier) })
        var model: [ModelFile] = []
        func add(_ silo: String, _ path: [UInt8], size: Int64, ageDays: Double, tags: [String: String] = [:]) throws {
            let full = Array((pool.siloPath(silo) + "/").utf8) + path
            let parent = Array(full[..<full.lastIndex(of: UInt8(ascii: "/"))!])
            try FileManager.default.createDirectory(atPath: String(decoding: parent, as: UTF8.self), withIntermediateDirectories: true)
            let fd = withCPath(full) { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
            guard fd >= 0 else { throw Errno.current }
            #expect(ftruncate(fd, off_t(size)) == 0)
            close(fd)
            let mtime = now - Int(ageDays * Double(day))
            var times = [timespec(tv_sec: mtime, tv_nsec: 0), timespec(tv_sec: mtime, tv_nsec: 0)]
            let rc = withCPath(full) { utimensat(AT_FDCWD, $0, &times, 0) }
            guard rc == 0 else { throw Errno.current }
            for (k, v) in tags {
                let rc = withCPath(full) { p in Array(v.utf8).withUnsafeBytes { estuary_lsetxattr(p, "user." + k, $0.baseAddress, $0.count, 0) } }
                guard rc == 0 else { throw Errno.current }
            }
            model.append(ModelFile(path: path, silo: silo, tier: tiers[silo]!, size: size, mtime: mtime, tags: tags))
        }
        try add("fast0", Array("proj/a.bin".utf8), size: 10_000, ageDays: 1.5, tags: ["project": "apollo"])
        try add("fast0", Array("proj/b.txt".utf8), size: 100, ageDays: 40.5, tags: ["project": "gemini"])
        try add("bulk0", Array("proj/c.dat".utf8), size: 2 << 20, ageDays: 400.5, tags: ["project": "apollo", "owner": "ops"])
        try add("bulk0", Array("media/film.mov".utf8), size: 3 << 20, ageDays: 10.5)
        try add("bulk1", Array("media/old.mkv".utf8), size: 50_000, ageDays: 100.5, tags: ["project": "apollo"])
        try add("bulk1", Array("notes/empty".utf8), size: 0, ageDays: 0.2)
        try add("fast0", Array("raw/".utf8) + rawName, size: 777, ageDays: 5.5, tags: ["project": "apollo"])
        // A spread of files over all three silos, directories merged across them.
        for i in 0..<240 {
            let silo = pool.silos[i % 3].name
            var tags: [String: String] = [:]
            if i % 10 == 0 { tags["project"] = "apollo" }
            if i % 10 == 5 { tags["project"] = "gemini" }
            if i % 7 == 0 { tags["owner"] = "u\(i % 3)" }
            try add(silo, Array("many/d\(i % 8)/f\(i)".utf8), size: Int64((i * 7919) % 300_000),
                    ageDays: Double((i * 37) % 500) + 0.5, tags: tags)
        }
        // A tagged directory (in one silo only): directories carry tags too.
        let dir = pool.siloPath("bulk1") + "/notes"
        try Sys.setXattr(path: dir, name: "user.project", value: Array("apollo".utf8))
        // A symlink: never tagged, type l.
        try FileManager.default.createSymbolicLink(atPath: pool.siloPath("fast0") + "/proj/link", withDestinationPath: "a.bin")
        return model
    }

    /// Every directory the model implies, the pool root ("") included.
    static func directories(_ model: [ModelFile]) -> Set<[UInt8]> {
        var dirs: Set<[UInt8]> = [[]]
        for file in model {
            var parts = file.path.split(separator: UInt8(ascii: "/")).map(Array.init)
            parts.removeLast()
            var prefix: [UInt8] = []
            for part in parts {
                prefix = prefix.isEmpty ? part : prefix + [UInt8(ascii: "/")] + part
                dirs.insert(prefix)
            }
        }
        return dirs
    }

    private func absolute(_ pool: TestPool, _ relative: [UInt8]) -> [UInt8] {
        relative.isEmpty ? Array(pool.mountpoint.utf8) : Array((pool.mountpoint + "/").utf8) + relative
    }

    /// Runs `estuary find` and returns the set of paths it printed (NUL-separated output).
    private func find(_ pool: TestPool, _ arguments: [String], root: String? = nil) throws -> Set<[UInt8]> {
        let result = try pool.estuary(["find", root ?? pool.mountpoint, "--print0"] + arguments)
        #expect(result.status == 0, "find \(arguments): \(result.stderr)")
        let paths = result.stdoutBytes.split(separator: 0).map(Array.init)
        #expect(Set(paths).count == paths.count, "find \(arguments) printed a path twice")
        return Set(paths)
    }

    private func expectSame(_ got: Set<[UInt8]>, _ want: Set<[UInt8]>, _ what: String) {
        let missing = want.subtracting(got).map { displayName($0) }.sorted()
        let extra = got.subtracting(want).map { displayName($0) }.sorted()
        #expect(missing.isEmpty && extra.isEmpty, "\(what): missing \(missing.prefix(10)), unexpected \(extra.prefix(10)) (\(got.count) vs \(want.count))")
    }

    @Test func findAnswersEveryFilterFromTheIndex() throws {
        let pool = try TestPool()
        let model = try Self.populate(pool)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let now = Int(Date().timeIntervalSince1970)
        let files = { (keep: (ModelFile) -> Bool) -> Set<[UInt8]> in Set(model.filter(keep).map { self.absolute(pool, $0.path) }) }
        let dirs = Self.directories(model)
        let link = absolute(pool, Array("proj/link".utf8))

        // No test: every name, the start directory included.
        expectSame(try find(pool, []), files { _ in true }.union(dirs.map { absolute(pool, $0) }).union([link]), "all")
        expectSame(try find(pool, ["--type", "f"]), files { _ in true }, "--type f")
        expectSame(try find(pool, ["--type", "d"]), Set(dirs.map { absolute(pool, $0) }), "--type d")
        expectSame(try find(pool, ["--type", "l"]), [link], "--type l")

        // Tags: files and the tagged directory.
        expectSame(try find(pool, ["--tag", "project=apollo"]),
                   files { $0.tags["project"] == "apollo" }.union([absolute(pool, Array("notes".utf8))]), "--tag project=apollo")
        expectSame(try find(pool, ["--tag", "project=apollo", "--type", "f"]), files { $0.tags["project"] == "apollo" }, "--tag --type f")
        expectSame(try find(pool, ["--has-tag", "owner"]), files { $0.tags["owner"] != nil }, "--has-tag owner")
        expectSame(try find(pool, ["--tag", "project=apollo", "--has-tag", "owner"]),
                   files { $0.tags["project"] == "apollo" && $0.tags["owner"] != nil }, "two tag tests")
        expectSame(try find(pool, ["--tag", "project=nothing"]), [], "an unused tag value")

        // Sizes with units, strict bounds as find(1)'s -size +N/-N.
        expectSame(try find(pool, ["--type", "f", "--larger", "100k"]), files { $0.size > 100 * 1024 }, "--larger 100k")
        expectSame(try find(pool, ["--type", "f", "--smaller", "10000"]), files { $0.size < 10_000 }, "--smaller 10000")
        expectSame(try find(pool, ["--type", "f", "--larger", "1MiB", "--smaller", "2.5M"]),
                   files { $0.size > 1 << 20 && Double($0.size) < 2.5 * 1048576 }, "size range")

        // Ages: the model's mtimes sit half a day away from whole days.
        expectSame(try find(pool, ["--type", "f", "--older", "30d"]), files { $0.mtime < now - 30 * Self.day }, "--older 30d")
        expectSame(try find(pool, ["--type", "f", "--newer", "2w"]), files { $0.mtime > now - 14 * Self.day }, "--newer 2w")
        expectSame(try find(pool, ["--type", "f", "--older", "1y"]), files { $0.mtime < now - 31_557_600 }, "--older 1y")
        expectSame(try find(pool, ["--type", "f", "--older", "48h", "--newer", "100d"]),
                   files { $0.mtime < now - 2 * Self.day && $0.mtime > now - 100 * Self.day }, "age range")

        // Where the data is.
        expectSame(try find(pool, ["--type", "f", "--tier", "fast"]), files { $0.tier == "fast" }, "--tier fast")
        expectSame(try find(pool, ["--type", "f", "--silo", "bulk1"]), files { $0.silo == "bulk1" }, "--silo bulk1")
        expectSame(try find(pool, ["--type", "f", "--silo", "bulk0", "--silo", "fast0"]),
                   files { $0.silo == "bulk0" || $0.silo == "fast0" }, "two silos")
        expectSame(try find(pool, ["--tier", "bulk", "--tag", "project=apollo", "--larger", "20k", "--type", "f"]),
                   files { $0.tier == "bulk" && $0.tags["project"] == "apollo" && $0.size > 20 * 1024 }, "combined")

        // --where: objective expressions, alone and beside the other tests.
        expectSame(try find(pool, ["--where", "size > 100K and tag.project == \"apollo\""]),
                   files { $0.size > 100 * 1024 && $0.tags["project"] == "apollo" }, "--where size and tag")
        expectSame(try find(pool, ["--where", "type == file and mtime > 30d and not has tag.owner"]),
                   files { $0.mtime < now - 30 * Self.day && $0.tags["owner"] == nil }, "--where age and has")
        expectSame(try find(pool, ["--type", "f", "--where", "name ~ \"f1*\" or tier == fast"]),
                   files { $0.tier == "fast" || $0.path.split(separator: UInt8(ascii: "/")).last!.starts(with: Array("f1".utf8)) }, "--where glob or tier")
        expectSame(try find(pool, ["--tag", "project=gemini", "--where", "silo == bulk1 or size < 1000"]),
                   files { $0.tags["project"] == "gemini" && ($0.silo == "bulk1" || $0.size < 1000) }, "--tag with --where")
        let badWhere = try pool.estuary(["find", pool.mountpoint, "--where", "size >> 1K"])
        #expect(badWhere.status == 2 && badWhere.stderr.contains("column 7"), "\(badWhere.stderr)")

        // A subdirectory as PATH, and the pool config with --root: the same paths.
        let many = files { $0.path.starts(with: Array("many/d3/".utf8)) && $0.size > 50_000 }
        expectSame(try find(pool, ["--larger", "50000"], root: pool.path("many/d3")), many, "PATH below the mount point")
        expectSame(try find(pool, ["--larger", "50000", "--root", "/many/d3"], root: pool.configPath), many, "pool with --root")

        // --json carries size, mtime, tier, silo and tags.
        let json = try pool.estuary(["find", pool.mountpoint, "--tag", "owner=ops", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let array = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(array.count == 1)
        if let first = array.first {
            #expect(first["path"] as? String == pool.path("proj/c.dat"))
            #expect((first["size"] as? NSNumber)?.int64Value == 2 << 20)
            #expect((first["mtime"] as? NSNumber)?.intValue == model.first { $0.path == Array("proj/c.dat".utf8) }!.mtime)
            #expect(first["tier"] as? String == "bulk" && first["silo"] as? String == "bulk0")
            #expect(first["tags"] as? [String: String] == ["project": "apollo", "owner": "ops"])
        }
        let empty = try pool.estuary(["find", pool.mountpoint, "--tag", "project=nothing", "--json"])
        #expect((try JSONSerialization.jsonObject(with: Data(empty.stdout.utf8)) as? [Any])?.isEmpty == true)

        // Newline output, and bad arguments are usage errors.
        let lines = try pool.estuary(["find", pool.path("proj"), "--type", "f"])
        #expect(lines.stdout == [pool.path("proj/a.bin"), pool.path("proj/b.txt"), pool.path("proj/c.dat")].joined(separator: "\n") + "\n")
        #expect(try pool.estuary(["find", pool.mountpoint, "--larger", "lots"]).status == 2)
        #expect(try pool.estuary(["find", pool.mountpoint, "--older", "3 fortnights"]).status == 2)
        #expect(try pool.estuary(["find", pool.mountpoint, "--tier", "tape"]).status == 1)

        // Unmounted: the same answers from the index, as paths under the pool root.
        try pool.unmount()
        let offline = try pool.estuary(["find", pool.configPath, "--root", "proj", "--type", "f"])
        #expect(offline.status == 0, "\(offline.stderr)")
        #expect(offline.stdout == "/proj/a.bin\n/proj/b.txt\n/proj/c.dat\n")
    }

    @Test func findPrintsRawNamesWithPrint0() throws {
        let pool = try TestPool()
        let model = try Self.populate(pool)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let result = try pool.estuary(["find", pool.path("raw"), "--type", "f", "--print0"])
        #expect(result.status == 0)
        #expect(result.stdoutBytes == Array((pool.mountpoint + "/raw/").utf8) + Self.rawName + [0])
        // The printed bytes name the file through the mount.
        let printed = Array(result.stdoutBytes.dropLast())
        var s = stat()
        #expect(withCPath(printed) { lstat($0, &s) } == 0 && s.st_size == 777)
        // Matched by tag, among the other apollo files.
        let apollo = try find(pool, ["--tag", "project=apollo", "--type", "f"])
        #expect(apollo.contains(printed))
        #expect(apollo.count == model.filter { $0.tags["project"] == "apollo" }.count)
    }

    @Test func duSumsPerTierSiloTagAndUser() throws {
        let pool = try TestPool()
        let model = try Self.populate(pool)
        try pool.mount()
        defer { _ = try? pool.unmount() }

        func du(_ arguments: [String]) throws -> [String: (files: Int, bytes: Int64)] {
            let result = try pool.estuary(["du", pool.mountpoint, "--json"] + arguments)
            #expect(result.status == 0, "du \(arguments): \(result.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
            var out: [String: (files: Int, bytes: Int64)] = [:]
            for group in object["groups"] as? [[String: Any]] ?? [] {
                out[group["group"] as? String ?? "?"] = ((group["files"] as? NSNumber)?.intValue ?? -1, (group["bytes"] as? NSNumber)?.int64Value ?? -1)
            }
            let total = object["total"] as? [String: Any] ?? [:]
            #expect((total["files"] as? NSNumber)?.intValue == out.values.reduce(0) { $0 + $1.files })
            return out
        }
        func expected(_ key: (ModelFile) -> String) -> [String: (files: Int, bytes: Int64)] {
            var out: [String: (files: Int, bytes: Int64)] = [:]
            for file in model { out[key(file), default: (0, 0)].files += 1; out[key(file), default: (0, 0)].bytes += file.size }
            return out
        }
        func same(_ got: [String: (files: Int, bytes: Int64)], _ want: [String: (files: Int, bytes: Int64)], _ what: String) {
            #expect(got.keys.sorted() == want.keys.sorted(), "\(what): groups \(got.keys.sorted()) vs \(want.keys.sorted())")
            for (k, v) in want { #expect(got[k]?.files == v.files && got[k]?.bytes == v.bytes, "\(what) \(k): \(String(describing: got[k])) vs \(v)") }
        }
        same(try du(["--by", "tier"]), expected { $0.tier }, "tier")
        same(try du(["--by", "silo"]), expected { $0.silo }, "silo")
        same(try du(["--by", "tag:project"]), expected { $0.tags["project"] ?? "(untagged)" }, "tag:project")
        same(try du(["--by", "user"]), expected { _ in "root" }, "user")
        let apollo = model.filter { $0.tags["project"] == "apollo" }
        same(try du(["--by", "tier", "--tag", "project=apollo"]),
             Dictionary(grouping: apollo, by: \.tier).mapValues { (files: $0.count, bytes: $0.reduce(Int64(0)) { $0 + $1.size }) },
             "tier of the apollo files")

        let big = model.filter { $0.size > 100 * 1024 }
        same(try du(["--by", "silo", "--where", "size > 100K"]),
             Dictionary(grouping: big, by: \.silo).mapValues { (files: $0.count, bytes: $0.reduce(Int64(0)) { $0 + $1.size }) },
             "silo of the files over 100K (--where)")

        // The table: a row per tier and the total.
        let table = try pool.estuary(["du", pool.path("proj"), "--by", "tier"])
        #expect(table.status == 0)
        let lines = table.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(lines.first?.first == "TIER")
        #expect(lines.contains { $0.first == "fast" && $0.count > 1 && $0[1] == "2" })
        #expect(lines.contains { $0.first == "bulk" && $0.count > 1 && $0[1] == "1" && $0.contains(Substring(String(2 << 20))) })
        #expect(lines.last?.first == "total" && lines.last?[1] == "3")
        #expect(try pool.estuary(["du", pool.mountpoint, "--by", "colour"]).status == 2)
    }

    @Test func tagSetsAndRemovesThroughTheMount() throws {
        let pool = try TestPool()
        let model = try Self.populate(pool)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let files = { (keep: (ModelFile) -> Bool) -> Set<[UInt8]> in Set(model.filter(keep).map { self.absolute(pool, $0.path) }) }

        // One path: the tag lands in the index (find) and on the backing file.
        var r = try pool.estuary(["tag", pool.path("proj/b.txt"), "color=red", "size=small"])
        #expect(r.status == 0, "\(r.output)")
        expectSame(try find(pool, ["--tag", "color=red"]), [Array(pool.path("proj/b.txt").utf8)], "tagged one file")
        #expect(try Shell.run("/usr/bin/getfattr", ["--only-values", "-n", "user.color", pool.siloPath("fast0") + "/proj/b.txt"]).stdout == "red")
        #expect(try Shell.run("/usr/bin/getfattr", ["--only-values", "-n", "user.size", pool.path("proj/b.txt")]).stdout == "small")
        r = try pool.estuary(["tag", "-d", "color", pool.path("proj/b.txt")])
        #expect(r.status == 0, "\(r.output)")
        expectSame(try find(pool, ["--has-tag", "color"]), [], "removed")
        #expect(try find(pool, ["--has-tag", "size"]).count == 1)
        // Removing a tag a single file lacks fails; reserved names are refused.
        #expect(try pool.estuary(["tag", "-d", "color", pool.path("proj/b.txt")]).status == 1)
        #expect(try pool.estuary(["tag", pool.path("proj/b.txt"), "estuary.pin=fast"]).status == 2)

        // --recursive: the directory and every file and directory below it.
        r = try pool.estuary(["tag", "--recursive", pool.path("many"), "batch=7"])
        #expect(r.status == 0, "\(r.output)")
        let many = files { $0.path.starts(with: Array("many/".utf8)) }
        let manyDirs = Set(Self.directories(model).filter { $0.starts(with: Array("many".utf8)) }.map { absolute(pool, $0) })
        expectSame(try find(pool, ["--tag", "batch=7"]), many.union(manyDirs), "tag -r")
        r = try pool.estuary(["tag", "-r", "-d", "batch", pool.path("many/d1")])
        #expect(r.status == 0, "\(r.output)")
        expectSame(try find(pool, ["--tag", "batch=7", "--type", "f"]),
                   files { $0.path.starts(with: Array("many/".utf8)) && !$0.path.starts(with: Array("many/d1/".utf8)) }, "tag -r -d")

        // find --print0 | tag --from -: the non-UTF-8 name included.
        let apollo = files { $0.tags["project"] == "apollo" }
        let pipe = try Shell.sh("'\(Shell.estuary)' find '\(pool.mountpoint)' --tag project=apollo --type f --print0 | '\(Shell.estuary)' tag --from - reviewed=yes")
        #expect(pipe.status == 0, "\(pipe.output)")
        #expect(pipe.stdout.contains("on \(apollo.count) path(s)"), "\(pipe.stdout)")
        expectSame(try find(pool, ["--tag", "reviewed=yes"]), apollo, "tag --from - (NUL-separated)")

        // Newline-separated paths from a file, removing.
        let list = pool.root + "/list.txt"
        try ([pool.path("proj/a.bin"), pool.path("proj/c.dat")].joined(separator: "\n") + "\n").write(toFile: list, atomically: true, encoding: .utf8)
        r = try pool.estuary(["tag", "--from", list, "-d", "reviewed"])
        #expect(r.status == 0, "\(r.output)")
        expectSame(try find(pool, ["--tag", "reviewed=yes"]),
                   apollo.subtracting([Array(pool.path("proj/a.bin").utf8), Array(pool.path("proj/c.dat").utf8)]), "tag --from FILE -d")
    }
}
