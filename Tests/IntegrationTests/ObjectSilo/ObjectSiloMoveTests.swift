import Foundation
import Syscalls
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Tier moves into a bucket and back, through the real mount and a real S3 server: every
/// byte intact, the file whole on exactly one silo, attributes kept, writes recalling first.
@Suite(.serialized)
struct ObjectSiloMoveTests {
    static let extent = 64 << 10

    private func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    @Test func filesOfEverySizeGoToTheBucketAndBack() throws {
        let s3 = try ObjectSiloPool()
        try s3.pool.mount()
        defer { _ = try? s3.pool.unmount() }
        // 0, 1 B, one extent, a non-multiple, and more than one 16 MiB part (multipart).
        let sizes = [0, 1, Self.extent, 3 * Self.extent + 77, (16 << 20) + 4097]
        try FileManager.default.createDirectory(atPath: s3.pool.path("d/e"), withIntermediateDirectories: true)
        var model: [String: [UInt8]] = [:]
        for (i, size) in sizes.enumerated() {
            let name = "d/e/f\(i)"
            model[name] = objectPattern(size, seed: i)
            try Data(model[name]!).write(to: URL(fileURLWithPath: s3.pool.path(name)))
        }
        #expect(chmod(s3.pool.path("d/e/f1"), 0o600) == 0)
        try Sys.setXattr(path: s3.pool.path("d/e/f2"), name: "user.project", value: Array("apollo".utf8))
        var before = stat()
        _ = stat(s3.pool.path("d/e/f3"), &before)

        let names = model.keys.sorted()
        let out = try s3.pool.estuary(["move"] + names.map { s3.pool.path($0) } + ["--to", "cold", "--wait"])
        #expect(out.status == 0, "\(out.output)")
        let keys = try s3.keys()
        for name in names {
            #expect(keys.contains(name), "\(name) in \(keys)")
            #expect(try s3.object(name) == model[name], "\(name) in the bucket")
            #expect(!exists(s3.pool.siloPath("fast0") + "/" + name) && !exists(s3.pool.siloPath("bulk0") + "/" + name))
            #expect(try readWholeFile(s3.pool.path(name)) == model[name], "\(name) through the mount")
        }
        var after = stat()
        _ = stat(s3.pool.path("d/e/f3"), &after)
        #expect(after.st_ino == before.st_ino && after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec)
        var st = stat()
        #expect(stat(s3.pool.path("d/e/f1"), &st) == 0 && st.st_mode & 0o777 == 0o600)
        let tier = try Shell.run("/usr/bin/getfattr", ["--only-values", "-n", "user.estuary.tier", s3.pool.path("d/e/f4")])
        #expect(tier.stdout == "cold")

        let back = try s3.pool.estuary(["move"] + names.map { s3.pool.path($0) } + ["--to", "fast", "--wait"])
        #expect(back.status == 0, "\(back.output)")
        #expect(try s3.keys().isEmpty)
        for name in names {
            #expect(exists(s3.pool.siloPath("fast0") + "/" + name), "\(name) recalled")
            #expect(try readWholeFile(s3.pool.siloPath("fast0") + "/" + name) == model[name])
            #expect(try readWholeFile(s3.pool.path(name)) == model[name])
        }
        #expect(stat(s3.pool.path("d/e/f1"), &st) == 0 && st.st_mode & 0o777 == 0o600)
        let tag = try Shell.run("/usr/bin/getfattr", ["--only-values", "-n", "user.project", s3.pool.path("d/e/f2")])
        #expect(tag.stdout == "apollo")
    }

    @Test func openingForWritingRecallsFirstAndAppendsLand() throws {
        let s3 = try ObjectSiloPool()
        try s3.pool.mount()
        defer { _ = try? s3.pool.unmount() }
        let data = objectPattern(5 * Self.extent + 3, seed: 4)
        try Data(data).write(to: URL(fileURLWithPath: s3.pool.path("log.bin")))
        #expect(try s3.pool.estuary(["move", s3.pool.path("log.bin"), "--to", "cold", "--wait"]).status == 0)
        #expect(try s3.keys() == ["log.bin"])
        // A reader holds the file open in the bucket while a writer appends.
        let reader = try Sys.open(s3.pool.path("log.bin"), flags: O_RDONLY)
        defer { close(reader) }
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: s3.pool.path("log.bin")))
        handle.seekToEndOfFile()
        handle.write(Data("tail".utf8))
        try handle.close()
        #expect(try readWholeFile(s3.pool.path("log.bin")) == data + Array("tail".utf8))
        #expect(try s3.keys().isEmpty)
        #expect(exists(s3.pool.siloPath("fast0") + "/log.bin"))
        // The reader's handle followed the file to its local copy.
        var buffer = [UInt8](repeating: 0, count: 100)
        let n = buffer.withUnsafeMutableBytes { pread(reader, $0.baseAddress, 100, off_t(Self.extent)) }
        #expect(n == 100 && Array(buffer) == Array(data[Self.extent..<Self.extent + 100]))
    }

    /// A file open for reading and writing goes to the bucket all the same: the handle follows
    /// it (reading the bytes the object holds), and a write through the handle brings the file
    /// back first, then lands, as an open for writing of a file in the bucket does.
    @Test func anOpenFileGoesToTheBucketAndItsHandleFollows() throws {
        let s3 = try ObjectSiloPool()
        try s3.pool.mount()
        defer { _ = try? s3.pool.unmount() }
        let data = objectPattern(3 * Self.extent + 17, seed: 9)
        try Data(data).write(to: URL(fileURLWithPath: s3.pool.path("open.bin")))
        let fd = try Sys.open(s3.pool.path("open.bin"), flags: O_RDWR)
        defer { close(fd) }
        let move = try s3.pool.estuary(["move", s3.pool.path("open.bin"), "--to", "cold", "--wait"])
        #expect(move.status == 0, "\(move.output)")
        #expect(try s3.keys() == ["open.bin"])
        #expect(!exists(s3.pool.siloPath("fast0") + "/open.bin"))
        let object = try s3.object("open.bin") ?? []
        let objectSame = object == data
        #expect(objectSame)
        var buffer = [UInt8](repeating: 0, count: 100)
        var n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 100, off_t(Self.extent)) }
        #expect(n == 100 && Array(buffer) == Array(data[Self.extent..<Self.extent + 100]), "read through the handle: \(n), errno \(errno)")
        let tail = Array("tail".utf8)
        n = tail.withUnsafeBytes { pwrite(fd, $0.baseAddress, 4, off_t(data.count)) }
        #expect(n == 4, "write through the handle: \(n), errno \(errno)")
        #expect(fsync(fd) == 0)
        #expect(try s3.keys().isEmpty)
        let local = (try? readWholeFile(s3.pool.siloPath("fast0") + "/open.bin")) ?? []
        let localSame = local == data + tail
        #expect(localSame, "the recalled copy: \(local.count) bytes")
        let fresh = try readWholeFile(s3.pool.path("open.bin"))
        let freshSame = fresh == data + tail
        #expect(freshSame)
    }

    @Test func hardLinkedFilesAreRefusedAtMoveTime() throws {
        let s3 = try ObjectSiloPool()
        try s3.pool.mount()
        defer { _ = try? s3.pool.unmount() }
        try Data("x".utf8).write(to: URL(fileURLWithPath: s3.pool.path("a")))
        #expect(link(s3.pool.path("a"), s3.pool.path("b")) == 0)
        let out = try s3.pool.estuary(["move", s3.pool.path("a"), "--to", "cold", "--wait"])
        #expect(out.status != 0)
        #expect(out.output.contains("hard link"), "\(out.output)")
        #expect(try s3.keys().isEmpty)
    }
}

/// Renames and unlinks of files whose data is in the bucket.
@Suite(.serialized)
struct ObjectSiloNameTests {
    private func readWholeFile(_ path: String) throws -> [UInt8] {
        let fd = try Sys.open(path, flags: O_RDONLY)
        defer { close(fd) }
        return try Sys.readAll(fd, limit: 1 << 30)
    }

    @Test func renameCopiesOnTheServerAndUnlinkDeletesTheKey() throws {
        let s3 = try ObjectSiloPool()
        try s3.put(["dir/a.txt": Array("aaa".utf8), "dir/sub/b.txt": Array("bbb".utf8), "gone.txt": Array("x".utf8)])
        try s3.pool.mount()
        defer { _ = try? s3.pool.unmount() }
        var before = stat()
        _ = stat(s3.pool.path("dir/a.txt"), &before)
        #expect(rename(s3.pool.path("dir/a.txt"), s3.pool.path("dir/renamed.txt")) == 0)
        var after = stat()
        #expect(stat(s3.pool.path("dir/renamed.txt"), &after) == 0 && after.st_ino == before.st_ino)
        #expect(try readWholeFile(s3.pool.path("dir/renamed.txt")) == Array("aaa".utf8))
        #expect(rename(s3.pool.path("dir"), s3.pool.path("moved")) == 0)
        #expect(try readWholeFile(s3.pool.path("moved/sub/b.txt")) == Array("bbb".utf8))
        #expect(unlink(s3.pool.path("gone.txt")) == 0)
        #expect(!FileManager.default.fileExists(atPath: s3.pool.path("gone.txt")))
        #expect(try s3.keys() == ["moved/renamed.txt", "moved/sub/b.txt"])
        // A rescan agrees with what the mount did.
        #expect(try s3.pool.estuary(["scan", s3.pool.mountpoint]).status == 0)
        #expect(try readWholeFile(s3.pool.path("moved/renamed.txt")) == Array("aaa".utf8))
        #expect(!FileManager.default.fileExists(atPath: s3.pool.path("dir")))
    }
}
