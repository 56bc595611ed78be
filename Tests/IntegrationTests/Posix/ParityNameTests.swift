import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Names at the limits: 255-byte components, paths near PATH_MAX, bytes that are not UTF-8.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct PosixParityNameTests {
    private func name(_ c: Character, _ n: Int) -> FSPath { FSPath(String(repeating: c, count: n)) }

    @Test(arguments: TestEngine.allCases) func nameMaxComponents(engine: TestEngine) throws {
        let a255 = name("a", 255), a256 = name("a", 256), b255 = name("b", 255), c255 = name("c", 255)
        let accents255 = FSPath(String(repeating: "\u{e9}", count: 127) + "a")     // 254 + 1 bytes
        let accents256 = FSPath(String(repeating: "\u{e9}", count: 128))
        expectParity(try Parity.run([
            .writeFile(a255, "x").must("ok 1"),
            .writeFile(a256, "x").must("ENAMETOOLONG"),
            .stat(a256).must("ENAMETOOLONG"),
            .unlink(a256).must("ENAMETOOLONG"),
            .mkdir(b255).must("ok"),
            .mkdir(name("b", 256)).must("ENAMETOOLONG"),
            .writeFile(b255 / a255, "inner").must("ok 5"),
            .rename(a255, a256).must("ENAMETOOLONG"),
            .rename(a255, c255).must("ok"),
            .symlink("target", name("l", 256)).must("ENAMETOOLONG"),
            .symlink(Blob(c255.bytes), name("l", 255)).must("ok"),
            .readFile(name("l", 255)).must("ok 1B \"x\""),
            .link(c255, name("k", 255)).must("ok"),
            .stat(name("k", 255)).must("ok reg 0644 size=1 nlink=2"),
            .link(c255, name("k", 256)).must("ENAMETOOLONG"),
            .setxattr(c255, "user.n", "v").must("ok"),
            .getxattr(name("k", 255), "user.n").must("ok size 1"),
            .writeFile(accents255, "utf8").must("ok 4"),
            .writeFile(accents256, "utf8").must("ENAMETOOLONG"),
            .mknod(name("p", 255), mode: S_IFIFO | 0o644).must("ok"),
            .readdir(".").must("ok"),
            .readdir(b255).must("ok"),
        ], engine: engine))
    }

    @Test(arguments: TestEngine.allCases) func pathsNearPathMax(engine: TestEngine) throws {
        // 19 levels of 200-byte names: 3,818 bytes; a 250-byte leaf brings the path to 4,069.
        var ops: [Op] = []
        var dir = name("p", 200)
        ops.append(.mkdir(dir).must("ok"))
        for level in 2...19 {
            dir = dir / name(Character(UnicodeScalar(UInt8(0x60 + level))), 200)
            ops.append(.mkdir(dir).must("ok"))
        }
        let leaf = dir / name("f", 250), other = dir / name("g", 250)
        let tooLong = dir / name("z", 255) / name("z", 30)                     // 4,105 bytes
        ops += [
            .writeFile(leaf, .pattern(5000)).must("ok 5000"),
            .readFile(leaf).must("ok 5000B"),
            .stat(leaf).must("ok reg 0644 size=5000 nlink=1"),
            .open(leaf, O_RDWR, slot: 1).must("ok"),
            .pwrite(1, "deep write", at: 4990).must("ok 10"),
            .fsync(1).must("ok"),
            .close(1),
            .rename(leaf, other).must("ok"),
            .link(other, leaf).must("ok"),
            .stat(leaf).must("ok reg 0644 size=5000 nlink=2"),
            .symlink("../short", dir / name("s", 250)).must("ok"),
            .readlink(dir / name("s", 250)).must("ok 8B"),
            .setxattr(other, "user.deep", "yes").must("ok"),
            .getxattr(leaf, "user.deep").must("ok size 3"),
            .chmod(leaf, 0o600).must("ok"),
            .utimens(leaf, atime: .at(1_000, 0), mtime: .at(2_000, 0)).must("ok"),
            .stat(other, [.mtime]).must("ok reg 0600 size=5000 nlink=2 uid=0 gid=0 mtime=2000.0"),
            .mkdir(dir / name("q", 250)).must("ok"),
            .mkdir(tooLong).must("ENAMETOOLONG"),
            .writeFile(tooLong, "x").must("ENAMETOOLONG"),
            .readdir(dir).must("ok"),
            .unlink(other).must("ok"),
            .rename(name("p", 200), "top").must("ok"),
            .readFile(FSPath.raw(Array("top".utf8) + dir.bytes.dropFirst(200)) / name("f", 250)).must("ok 5000B"),
        ]
        expectParity(try Parity.run(ops, engine: engine))
    }

    @Test(arguments: TestEngine.allCases) func nonUTF8NamesRoundTrip(engine: TestEngine) throws {
        let bad1: [UInt8] = [0x66, 0xff, 0xfe, 0x2e, 0x74], bad2: [UInt8] = [0xc3, 0x28]
        let surrogate: [UInt8] = [0xed, 0xa0, 0x80], latin1: [UInt8] = [0x63, 0x61, 0x66, 0xe9]
        expectParity(try Parity.run([
            .writeFile(.raw(bad1), "bytes").must("ok 5"),
            .readFile(.raw(bad1)).must("ok 5B \"bytes\""),
            .mkdir(.raw(bad2)).must("ok"),
            .writeFile(.raw(bad2) / .raw(surrogate), "s").must("ok 1"),
            .rename(.raw(bad1), .raw(bad2) / .raw(latin1)).must("ok"),
            .readdir(.raw(bad2)).must("ok caf\\xe9:8 \\xed\\xa0\\x80:8"),
            .symlink(Blob(bad1), .raw([0x6c, 0x80])).must("ok"),
            .readlink(.raw([0x6c, 0x80])).must("ok 5B \"f\\xff\\xfe.t\""),
            .setxattr(.raw(bad2) / .raw(latin1), "user.k", Blob([0xff, 0x00, 0x01])).must("ok"),
            .getxattr(.raw(bad2) / .raw(latin1), "user.k").must("ok size 3"),
            .link(.raw(bad2) / .raw(latin1), .raw([0xfe])).must("ok"),
            .stat(.raw([0xfe])).must("ok reg 0644 size=5 nlink=2"),
            .unlink(.raw(bad2) / .raw(surrogate)).must("ok"),
            .writeFile("new\nline", "1"), .writeFile("back\\slash", "2"), .writeFile(" lead", "3"),
            .writeFile("trail ", "4"), .writeFile(".hidden", "5"), .writeFile("...", "6"), .writeFile("tab\there", "7"),
            .writeFile("\u{e9}", "composed"), .writeFile("e\u{301}", "decomposed"),
            .readFile("\u{e9}").must("ok 8B \"composed\""),
            .readFile("e\u{301}").must("ok 10B \"decomposed\""),
            .mkdir(.raw([0x80, 0x81])), .rename(.raw([0x80, 0x81]), .raw([0x82])).must("ok"),
            .readdir(".").must("ok"),
        ], engine: engine))
    }
}
