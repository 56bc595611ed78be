import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `estuary find --where` with tests on `name` and `path`, which the index answers through its
/// name index (exact names, literal prefixes, suffixes, substrings) and by starting below a
/// path's literal directory: the same names as the model says, hard links and a name that is
/// not UTF-8 included, and the same as when the expression gives the planner nothing to use.
@Suite(.serialized)
struct NameQueryTests {
    struct Item {
        var path: [UInt8]   // pool-relative
        var size: Int64
        var isDirectory: Bool
        var mtime = 0
        var name: [UInt8] { Array(path.split(separator: UInt8(ascii: "/")).last ?? []) }
        var text: String { "/" + String(decoding: path, as: UTF8.self) }
    }

    private func find(_ pool: TestPool, _ arguments: [String]) throws -> Set<[UInt8]> {
        let result = try pool.estuary(["find", pool.mountpoint, "--print0"] + arguments)
        #expect(result.status == 0, "find \(arguments): \(result.stderr)")
        let paths = result.stdoutBytes.split(separator: 0).map(Array.init)
        #expect(Set(paths).count == paths.count, "find \(arguments) printed a path twice")
        return Set(paths)
    }

    @Test func nameAndPathTestsAgreeWithTheModel() throws {
        let pool = try TestPool()
        let model = try QueryTests.populate(pool)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        // A second name for a file, made through the mount: kept in the index's links.
        #expect(link(pool.path("proj/a.bin"), pool.path("many/d1/alias.bin")) == 0)
        var items = model.map { Item(path: $0.path, size: $0.size, isDirectory: false, mtime: $0.mtime) }
        items += QueryTests.directories(model).filter { !$0.isEmpty }.map { Item(path: $0, size: 0, isDirectory: true) }
        items.append(Item(path: Array("proj/link".utf8), size: 0, isDirectory: false))
        items.append(Item(path: Array("many/d1/alias.bin".utf8), size: 10_000, isDirectory: false,
                          mtime: model.first { $0.path == Array("proj/a.bin".utf8) }!.mtime))
        let now = Int(Date().timeIntervalSince1970)
        let day = 86_400
        items.append(Item(path: [], size: 0, isDirectory: true))   // the start directory itself
        let absolute = { (item: Item) in item.path.isEmpty ? Array(pool.mountpoint.utf8) : Array((pool.mountpoint + "/").utf8) + item.path }
        let name = { (item: Item) in String(decoding: item.name, as: UTF8.self) }

        let cases: [(String, (Item) -> Bool)] = [
            ("name == \"f17\"", { name($0) == "f17" }),
            ("name ~ \"f17\"", { name($0) == "f17" }),
            ("name ~ \"f1*\"", { name($0).hasPrefix("f1") }),
            ("name ~ \"f1?\"", { name($0).hasPrefix("f1") && $0.name.count == 3 }),
            ("name ~ \"*.mkv\"", { name($0).hasSuffix(".mkv") }),
            ("name ~ \"*.bin\"", { name($0).hasSuffix(".bin") }),
            ("name ~ \"*23*\"", { name($0).contains("23") }),
            ("name ~ \"f*3*9\"", { name($0).hasPrefix("f") && name($0).dropFirst().contains("3") && name($0).hasSuffix("9") }),
            ("name ~ \"d[0-2]\"", { $0.isDirectory && ["d0", "d1", "d2"].contains(name($0)) }),
            ("name ~ \"f1*\" and size > 100000", { name($0).hasPrefix("f1") && $0.size > 100_000 }),
            ("name ~ \"f1*\" or name ~ \"*.mkv\"", { name($0).hasPrefix("f1") || name($0).hasSuffix(".mkv") }),
            ("not name ~ \"f*\"", { !name($0).hasPrefix("f") }),
            ("name ~ \"*ve\"", { $0.name.last == UInt8(ascii: "e") && $0.name.dropLast().last == UInt8(ascii: "v") }),
            ("path == \"/proj/a.bin\"", { $0.text == "/proj/a.bin" }),
            ("path ~ \"/many/d3/*\"", { $0.text.hasPrefix("/many/d3/") }),
            ("path ~ \"/many/**/f2*\"", { $0.text.hasPrefix("/many/") && name($0).hasPrefix("f2") }),
            ("path ~ \"/many/d1/*.bin\"", { $0.text.hasPrefix("/many/d1/") && name($0).hasSuffix(".bin") }),
            ("path ~ \"/nothere/**\"", { _ in false }),
            ("path ~ \"/proj/a.bin/*\"", { _ in false }),
            ("path ~ \"/proj\" and type == dir", { $0.text == "/proj" }),
            // Bounds the engine applies while it reads every entry (the symlink is "proj/link").
            ("size > 100000", { $0.size > 100_000 }),
            ("size >= 777 and size <= 777", { $0.size == 777 }),
            ("size == 0 and type == file", { $0.size == 0 && !$0.isDirectory && $0.text != "/proj/link" }),
            ("type == file and mtime > 30d", { !$0.isDirectory && $0.text != "/proj/link" && $0.mtime < now - 30 * day }),
            ("type == file and mtime < 2w and size < 5000", { !$0.isDirectory && $0.text != "/proj/link" && $0.mtime > now - 14 * day && $0.size < 5000 }),
            ("type == file and mtime >= 100d and mtime <= 200d", { !$0.isDirectory && $0.text != "/proj/link" && $0.mtime <= now - 100 * day && $0.mtime >= now - 200 * day }),
            ("type == dir and name ~ \"d*\"", { $0.isDirectory && name($0).hasPrefix("d") }),
            // Owner, tier and silo tests under and/or/not, which the engine applies as one condition
            // (the test runs as root: every entry is uid 0 and gid 0).
            ("uid == 4242", { _ in false }),
            ("not (uid == 0) or size == 777", { $0.size == 777 }),
            ("tier != \"nonexistent\" and gid == 0 and size > 100000", { $0.size > 100_000 }),
            ("silo == \"nope\" or (size > 100000 and not (type == dir))", { $0.size > 100_000 && !$0.isDirectory }),
            ("type == file and not (mtime <= 30d) and uid <= 0", { !$0.isDirectory && $0.text != "/proj/link" && $0.mtime < now - 30 * day }),
        ]
        for (expression, keep) in cases {
            let want = Set(items.filter(keep).map(absolute))
            let got = try find(pool, ["--where", expression])
            #expect(got == want, "\(expression): missing \(want.subtracting(got).map(displayName).sorted().prefix(5)), unexpected \(got.subtracting(want).map(displayName).sorted().prefix(5))")
            // The same test hidden from the planner (an `or` with a false test) walks every
            // entry: both ways must agree.
            let walked = try find(pool, ["--where", "(\(expression)) or size < 0"])
            #expect(walked == got, "\(expression) planned and walked: \(walked.symmetricDifference(got).map(displayName).sorted().prefix(5))")
        }
        // The same bounds with --larger/--older beside them.
        let mixed = try find(pool, ["--type", "f", "--larger", "1000", "--older", "30d", "--where", "size < 200000"])
        #expect(mixed == Set(items.filter { !$0.isDirectory && $0.text != "/proj/link" && $0.size > 1000 && $0.size < 200_000 && $0.mtime < now - 30 * day }.map(absolute)))
        // Below a start directory, and with a path outside it.
        let below = try pool.estuary(["find", pool.path("many/d3"), "--print0", "--where", "name ~ \"f*1\""])
        let wantBelow = Set(items.filter { $0.text.hasPrefix("/many/d3/") && name($0).hasPrefix("f") && name($0).hasSuffix("1") }.map(absolute))
        #expect(Set(below.stdoutBytes.split(separator: 0).map(Array.init)) == wantBelow && !wantBelow.isEmpty)
        let outside = try pool.estuary(["find", pool.path("many/d3"), "--where", "path ~ \"/proj/*\""])
        #expect(outside.status == 0 && outside.stdout.isEmpty)
        // The raw name is found by a suffix of its bytes that is valid text.
        let raw = try find(pool, ["--where", "name ~ \"*ve\" and size == 777"])
        #expect(raw == [Array((pool.mountpoint + "/raw/").utf8) + QueryTests.rawName])
    }
}
