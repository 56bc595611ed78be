import CShims
import Foundation
import Silos
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A silo's root descriptor is owned: a user holds it for as long as it uses it, so a health
/// check taking the silo offline on another thread cannot close it underneath (the number
/// could then name an unrelated file). Long paths open beneath it in steps.
struct SiloRootTests {
    private func makeSilo() throws -> (Silo, String) {
        let root = NSTemporaryDirectory() + "estuary-silo-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: root + "/silo/inside", withIntermediateDirectories: true)
        let silo = Silo(id: 0, name: "s", path: root + "/silo", tier: "fast", tierRank: 0, order: 0, minFree: 0, readOnly: false, pool: "test")
        try silo.attach()
        return (silo, root)
    }

    @Test func aRootInUseStaysOpenWhenTheSiloGoesOffline() throws {
        let (silo, root) = try makeSilo()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let rootInode = try Sys.statPath(root + "/silo").inode
        try silo.withRoot { fd throws(Errno) in
            // The directory is replaced behind the pool's back: the health check drops the root.
            #expect(rename(root + "/silo", root + "/aside") == 0)
            #expect(mkdir(root + "/silo", 0o755) == 0)
            #expect(silo.probe() != .healthy)
            #expect(!silo.isOnline)
            // The descriptor this user holds still names the directory it opened.
            #expect(try Sys.fstat(fd).inode == rootInode)
            let inside = try Sys.openBeneath(fd, Array("inside".utf8), flags: ESTUARY_O_PATH | O_DIRECTORY)
            Sys.close(inside)
        }
        #expect(throws: Errno.ioError) { try silo.open(Array("inside".utf8), flags: ESTUARY_O_PATH) }
    }

    @Test func pathsPastPathMaxOpenInSteps() throws {
        let (silo, root) = try makeSilo()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let name = [UInt8](repeating: UInt8(ascii: "x"), count: 250)
        var path: [UInt8] = []
        try silo.withRoot { rootFD throws(Errno) in
            var fd = try Sys.openBeneath(rootFD, Array(".".utf8), flags: O_RDONLY | O_DIRECTORY)
            for _ in 0..<40 {   // about 10,000 bytes of path
                _ = withCPath(name) { mkdirat(fd, $0, 0o755) }
                let next = try Sys.openBeneath(fd, name, flags: O_RDONLY | O_DIRECTORY)
                Sys.close(fd)
                fd = next
                path += path.isEmpty ? name : [UInt8(ascii: "/")] + name
            }
            Sys.close(fd)
        }
        #expect(path.count > 10_000)
        let file = try silo.open(path + Array("/leaf".utf8), flags: O_WRONLY | O_CREAT, mode: 0o644)
        try Sys.writeAll(file, Array("deep".utf8))
        Sys.close(file)
        let again = try silo.open(path + Array("/leaf".utf8), flags: O_RDONLY)
        #expect(try Sys.readAll(again) == Array("deep".utf8))
        Sys.close(again)
        // A symlink on the way is refused, short path or long.
        #expect(symlink("inside", root + "/silo/link") == 0)
        #expect(throws: Errno.tooManySymbolicLinkLevels) { try silo.open(Array("link/x".utf8), flags: O_RDONLY) }
        // A single name longer than a call takes cannot be split.
        #expect(throws: Errno.fileNameTooLong) { try silo.open([UInt8](repeating: 0x61, count: 5000), flags: O_RDONLY) }
    }
}
