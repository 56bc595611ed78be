import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Attributes, xattrs, data-range calls, sync calls and locks: native and mount must agree.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct PosixParityAttributeTests {
    let punch = LibcExtras.FALLOC_FL_PUNCH_HOLE | LibcExtras.FALLOC_FL_KEEP_SIZE
    let seekData = LibcExtras.SEEK_DATA, seekHole = LibcExtras.SEEK_HOLE

    @Test(arguments: TestEngine.allCases) func chmodChownUtimens(engine: TestEngine) throws {
        expectParity(try Parity.run([
            .writeFile("f", "x"),
            .chmod("f", 0o640).must("ok"), .stat("f").must("ok reg 0640"),
            .chmod("f", 0o4755).must("ok"), .stat("f").must("ok reg 04755"),
            .chmod("f", 0o2755).must("ok"), .stat("f").must("ok reg 02755"),
            .chmod("f", 0o7777).must("ok"), .stat("f").must("ok reg 07777"),
            .chown("f", uid: 1234, gid: 5678).must("ok"),                  // clears setuid and (group-exec) setgid
            .stat("f").must("ok reg 01777 size=1 nlink=1 uid=1234 gid=5678"),
            .chown("f", uid: .max, gid: 99).must("ok"), .stat("f").must("ok reg 01777 size=1 nlink=1 uid=1234 gid=99"),
            .chown("f", uid: 0, gid: .max).must("ok"), .stat("f").must("ok reg 01777 size=1 nlink=1 uid=0 gid=99"),
            .chmod("f", 0o2745), .chown("f", uid: .max, gid: 7),                // setgid without group exec stays
            .stat("f").must("ok reg 02745 size=1 nlink=1 uid=0 gid=7"),
            .chmod("f", 0o644),
            .mkdir("d"),
            .chmod("d", 0o1777).must("ok"), .stat("d").must("ok dir 01777"),
            .chmod("d", 0o2755).must("ok"), .stat("d").must("ok dir 02755"),
            .chown("d", uid: 10, gid: 20).must("ok"),
            .stat("d").must("ok dir 02755 nlink=2 uid=10 gid=20"),
            .mkdir("d/sub").must("ok"),                                      // setgid directory: group and bit inherited
            .stat("d/sub").must("ok dir 02755 nlink=2 uid=0 gid=20"),
            .writeFile("d/file", "f"),
            .stat("d/file").must("ok reg 0644 size=1 nlink=1 uid=0 gid=20"),
            .mknod("d/fifo", mode: S_IFIFO | 0o640),
            .stat("d/fifo").must("ok fifo 0640 size=0 nlink=1 uid=0 gid=20"),
            .open("f", O_RDWR, slot: 1),
            .fchmod(1, 0o600).must("ok"), .fstat(1).must("ok reg 0600"),
            .futimens(1, atime: .at(1_000_000_000, 0), mtime: .at(1_100_000_000, 7)).must("ok"),
            .stat("f", [.mtime, .atime]).must("ok reg 0600 size=1 nlink=1 uid=0 gid=7 mtime=1100000000.7 atime=1000000000.0"),
            .close(1),
            .utimens("f", atime: .now, mtime: .now).must("ok"),
            .stat("f", [.recentMtime, .recentAtime, .recentCtime]).must("ok reg 0600 size=1 nlink=1 uid=0 gid=7 mtime-recent=true atime-recent=true ctime-recent=true"),
            .utimens("f", atime: .at(1000, 0), mtime: .at(2000, 500)),
            .stat("f", [.mtime, .atime]).must("ok reg 0600 size=1 nlink=1 uid=0 gid=7 mtime=2000.500 atime=1000.0"),
            .utimens("f", atime: .omit, mtime: .at(3000, 0)),
            .stat("f", [.mtime, .atime]).must("ok reg 0600 size=1 nlink=1 uid=0 gid=7 mtime=3000.0 atime=1000.0"),
            .utimens("f", atime: .at(4000, 0), mtime: .omit),
            .stat("f", [.mtime, .atime]).must("ok reg 0600 size=1 nlink=1 uid=0 gid=7 mtime=3000.0 atime=4000.0"),
            .utimens("f", atime: .omit, mtime: .omit).must("ok"),
            .stat("f", [.mtime, .atime]).must("ok reg 0600 size=1 nlink=1 uid=0 gid=7 mtime=3000.0 atime=4000.0"),
            .utimens("f", atime: .omit, mtime: .now),
            .stat("f", [.atime, .recentMtime]).must("ok reg 0600 size=1 nlink=1 uid=0 gid=7 atime=4000.0 mtime-recent=true"),
            .utimens("missing", atime: .now, mtime: .now).must("ENOENT"),
            .chmod("missing", 0o600).must("ENOENT"),
            .chown("missing", uid: 1, gid: 1).must("ENOENT"),
            .truncate("d", 0).must("EISDIR"),
            .utimens("d", atime: .at(5000, 0), mtime: .at(6000, 0)).must("ok"),
            .stat("d", [.mtime]).must("ok dir 02755 nlink=3 uid=10 gid=20 mtime=6000.0"),
            .writeFile("d/new", "n"),                                        // an entry changes its directory's mtime
            .stat("d", [.recentMtime]).must("ok dir 02755 nlink=3 uid=10 gid=20 mtime-recent=true"),
            .utimens("d", atime: .at(5000, 0), mtime: .at(6000, 0)),
            .unlink("d/new"),
            .stat("d", [.recentMtime]).must("ok dir 02755 nlink=3 uid=10 gid=20 mtime-recent=true"),
        ], engine: engine))
    }

    @Test(arguments: TestEngine.allCases) func userXattrs(engine: TestEngine) throws {
        let name255 = "user." + String(repeating: "n", count: 250), name256 = name255 + "n"
        expectParity(try Parity.run([
            .writeFile("f", "x"), .mkdir("d"),
            .setxattr("f", "user.a", "1").must("ok"),
            .getxattr("f", "user.a").must("ok size 1, 1B \"1\""),
            .setxattr("f", "user.a", "2", flags: LibcExtras.XATTR_CREATE).must("EEXIST"),
            .setxattr("f", "user.b", "2", flags: LibcExtras.XATTR_REPLACE).must("ENODATA"),
            .setxattr("f", "user.a", "22", flags: LibcExtras.XATTR_REPLACE).must("ok"),
            .getxattr("f", "user.a").must("ok size 2, 2B \"22\""),
            .setxattr("f", "user.b", "", flags: LibcExtras.XATTR_CREATE).must("ok"),
            .getxattr("f", "user.b").must("ok size 0, 0B"),
            .listxattr("f").must("ok user.a user.b"),
            .getxattr("f", "user.a", size: 1).must("ERANGE"),
            .getxattr("f", "user.missing").must("ENODATA"),
            .removexattr("f", "user.b").must("ok"),
            .removexattr("f", "user.b").must("ENODATA"),
            .listxattr("f").must("ok user.a"),
            .setxattr("f", "user.big", .pattern(3000)).must("ok"),
            .getxattr("f", "user.big").must("ok size 3000"),
            .setxattr("f", "user.huge", .pattern(65537)).must("E2BIG"),
            .setxattr("f", name255, "long name").must("ok"),
            .getxattr("f", name255).must("ok size 9"),
            .setxattr("f", name256, "too long").must("ERANGE"),
            .setxattr("f", "user.", "empty suffix").must("EINVAL"),
            .setxattr("f", "bogus.x", "v").must("EOPNOTSUPP"),
            .setxattr("f", "user.bin", Blob([0xff, 0x00, 0x01, 0x00])).must("ok"),
            .getxattr("f", "user.bin").must("ok size 4"),
            .setxattr("d", "user.dir", "dv").must("ok"),
            .getxattr("d", "user.dir").must("ok size 2"),
            .listxattr("d").must("ok user.dir"),
            .link("f", "h"),
            .getxattr("h", "user.a").must("ok size 2"),
            .rename("f", "f2"),
            .getxattr("f2", "user.a").must("ok size 2"),
            .rename("d", "d2"),
            .listxattr("d2").must("ok user.dir"),
            .writeFile("g", "g"), .setxattr("g", "user.old", "o"),
            .unlink("g"), .writeFile("g", "new"),
            .listxattr("g").must("ok"),                                       // a new file starts bare
            .writeFile("r", "r"), .setxattr("r", "user.over", "o"),
            .rename("g", "r").must("ok"),                                     // the replaced file's tags go with it
            .listxattr("r").must("ok"),
            .mknod("fifo", mode: S_IFIFO | 0o644),
            .setxattr("fifo", "user.x", "v").must("EPERM"),
            .getxattr("missing", "user.a").must("ENOENT"),
            .open("f2", O_RDONLY, slot: 1),
            .unlink("f2"), .unlink("h"),
            .close(1),
        ], engine: engine))
    }

    @Test(arguments: TestEngine.allCases) func fallocatePunchHoleAndSeekDataHole(engine: TestEngine) throws {
        expectParity(try Parity.run([
            .open("s", O_RDWR | O_CREAT, slot: 1),
            .pwrite(1, .pattern(196_608), at: 0).must("ok 196608"),
            .fsync(1),
            .fallocate(1, mode: punch, offset: 65536, length: 65536).must("ok"),
            .fstat(1).must("ok reg 0644 size=196608"),
            .pread(1, count: 65536, at: 65536).must("ok 65536B all-zero"),
            .pread(1, count: 8, at: 65532).must("ok 8B"),
            .lseek(1, 0, whence: seekData).must("ok 0"),
            .lseek(1, 0, whence: seekHole).must("ok 65536"),
            .lseek(1, 65536, whence: seekData).must("ok 131072"),
            .lseek(1, 131072, whence: seekHole).must("ok 196608"),
            .lseek(1, 196608, whence: seekData).must("ENXIO"),
            .lseek(1, 300_000, whence: seekHole).must("ENXIO"),
            .fallocate(1, mode: LibcExtras.FALLOC_FL_PUNCH_HOLE, offset: 0, length: 4096).must("EOPNOTSUPP"),
            .fallocate(1, mode: 0, offset: 0, length: 0).must("EINVAL"),
            .fallocate(1, mode: 0, offset: 196_608, length: 65536).must("ok"),
            .fstat(1).must("ok reg 0644 size=262144"),
            .pread(1, count: 65536, at: 196_608).must("ok 65536B all-zero"),
            .fallocate(1, mode: LibcExtras.FALLOC_FL_KEEP_SIZE, offset: 262_144, length: 65536).must("ok"),
            .fstat(1).must("ok reg 0644 size=262144"),
            .fallocate(1, mode: punch, offset: 100, length: 10).must("ok"),  // inside a block: zeroes, no hole
            .pread(1, count: 12, at: 99).must("ok 12B"),
            .lseek(1, 0, whence: seekHole).must("ok 65536"),
            .open("s", O_RDONLY, slot: 2),
            .fallocate(2, mode: 0, offset: 0, length: 10).must("EBADF"),
            .close(2),
            .open("h", O_RDWR | O_CREAT, slot: 3),
            .ftruncate(3, 1_000_000),
            .lseek(3, 0, whence: seekData).must("ENXIO"),
            .lseek(3, 0, whence: seekHole).must("ok 0"),
            .pwrite(3, "x", at: 500_000),
            .fsync(3),
            .lseek(3, 0, whence: seekData).must("ok 499712"),
            .lseek(3, 499_712, whence: seekHole).must("ok 503808"),
            .stat("h").must("ok reg 0644 size=1000000"),
            .close(3), .close(1),
            .readFile("s").must("ok 262144B"),
        ], engine: engine))
    }

    @Test(arguments: TestEngine.allCases) func copyFileRange(engine: TestEngine) throws {
        expectParity(try Parity.run([
            .writeFile("src", .pattern(200_000)),
            .open("src", O_RDONLY, slot: 1), .open("dst", O_RDWR | O_CREAT, slot: 2),
            .copyRange(from: 1, fromOffset: 10, to: 2, toOffset: 5, length: 100).must("ok 100"),
            .fstat(2).must("ok reg 0644 size=105"),
            .pread(2, count: 200, at: 0).must("ok 105B"),
            .copyRange(from: 1, fromOffset: nil, to: 2, toOffset: nil, length: 150_000).must("ok 150000"),
            .lseek(1, 0, whence: SEEK_CUR).must("ok 150000"),
            .lseek(2, 0, whence: SEEK_CUR).must("ok 150000"),
            .copyRange(from: 1, fromOffset: 300_000, to: 2, toOffset: 0, length: 10).must("ok 0"),
            .copyRange(from: 1, fromOffset: 199_990, to: 2, toOffset: 0, length: 100).must("ok 10"),
            .copyRange(from: 1, fromOffset: 0, to: 2, toOffset: 0, length: 0).must("ok 0"),
            .open("src", O_RDWR, slot: 3),
            .copyRange(from: 3, fromOffset: 0, to: 3, toOffset: 50, length: 100).must("EINVAL"),
            .copyRange(from: 3, fromOffset: 0, to: 3, toOffset: 1000, length: 100).must("ok 100"),
            .copyRange(from: 1, fromOffset: 0, to: 1, toOffset: 500, length: 10).must("EBADF"),
            .mkdir("d"), .open("d", O_RDONLY, slot: 4),
            .copyRange(from: 4, fromOffset: 0, to: 2, toOffset: 0, length: 10).must("EISDIR"),
            .copyRange(from: 1, fromOffset: 100, to: 2, toOffset: 400_000, length: 1000).must("ok 1000"),
            .fstat(2).must("ok reg 0644 size=401000"),
            .close(1), .close(2), .close(3), .close(4),
            .readFile("src").must("ok 200000B"),
            .readFile("dst").must("ok 401000B"),
        ], engine: engine))
    }

    @Test(arguments: TestEngine.allCases) func sizeAndMtimeVisibleThroughEveryHandleAtOnce(engine: TestEngine) throws {
        expectParity(try Parity.run([
            .writeFile("f", "0123456789"),
            .utimens("f", atime: .at(1000, 0), mtime: .at(1000, 0)),
            .open("f", O_RDONLY, slot: 1), .open("f", O_WRONLY, slot: 2),
            .pwrite(2, "abc", at: 20).must("ok 3"),
            .stat("f", [.recentMtime]).must("ok reg 0644 size=23 nlink=1 uid=0 gid=0 mtime-recent=true"),
            .fstat(1).must("ok reg 0644 size=23"),
            .fstat(2).must("ok reg 0644 size=23"),
            .close(2),
            .stat("f").must("ok reg 0644 size=23"),
            .close(1),                                                       // a reader closing last
            .stat("f").must("ok reg 0644 size=23"),
            .open("f", O_RDONLY, slot: 3), .open("f", O_RDWR | O_APPEND, slot: 4),
            .write(4, "tail").must("ok 4"),
            .close(3),
            .stat("f").must("ok reg 0644 size=27"),
            .close(4),
            .stat("f").must("ok reg 0644 size=27"),
            .open("f", O_RDWR, slot: 5), .open("f", O_RDONLY, slot: 6),
            .ftruncate(5, 5).must("ok"),
            .fstat(6).must("ok reg 0644 size=5"),
            .pread(6, count: 100, at: 0).must("ok 5B \"01234\""),
            .close(6), .close(5),
            .stat("f").must("ok reg 0644 size=5"),
            .link("f", "g"),
            .open("g", O_WRONLY | O_APPEND, slot: 7),
            .write(7, "++").must("ok 2"),
            .stat("f").must("ok reg 0644 size=7 nlink=2"),
            .close(7),
            .utimens("f", atime: .at(1000, 0), mtime: .at(1000, 0)),
            .open("f", O_RDWR, slot: 8),
            .mmapWrite(8, at: 0, "ZZ").must("ok"),
            .stat("f", [.recentMtime]).must("ok reg 0644 size=7 nlink=2 uid=0 gid=0 mtime-recent=true"),
            .pread(8, count: 10, at: 0).must("ok 7B \"ZZ234++\""),
            .close(8),
            .readFile("g").must("ok 7B \"ZZ234++\""),
        ], engine: engine))
    }

    @Test(arguments: TestEngine.allCases) func mmapSharedReadsAndWrites(engine: TestEngine) throws {
        expectParity(try Parity.run([
            .writeFile("m", .pattern(20_000)),
            .open("m", O_RDWR, slot: 1),
            .mmapRead(1, at: 4090, count: 20).must("ok 20B"),
            .mmapWrite(1, at: 4094, "across a page boundary").must("ok"),
            .pread(1, count: 22, at: 4094).must("ok 22B \"across a page boundary\""),
            .pwrite(1, "written by pwrite", at: 12_000).must("ok 17"),
            .mmapRead(1, at: 12_000, count: 17).must("ok 17B \"written by pwrite\""),
            .mmapWrite(1, at: 19_990, .repeating("E", 10)).must("ok"),
            .mmapWrite(1, at: 19_995, "beyond").must("ok range beyond end of file 20000"),
            .ftruncate(1, 40_000),
            .mmapWrite(1, at: 30_000, "after growing").must("ok"),
            .fstat(1).must("ok reg 0644 size=40000"),
            .open("m", O_RDONLY, slot: 2),
            .mmapRead(2, at: 30_000, count: 13).must("ok 13B \"after growing\""),
            .mmapWrite(2, at: 0, "no").must("EACCES"),                      // PROT_WRITE, MAP_SHARED on a read-only descriptor
            .close(2), .close(1),
            .readFile("m").must("ok 40000B"),
        ], engine: engine))
    }

    @Test(arguments: TestEngine.allCases) func fsyncFdatasyncFsyncdir(engine: TestEngine) throws {
        expectParity(try Parity.run([
            .writeFile("f", "x"),
            .open("f", O_RDWR, slot: 1),
            .pwrite(1, "synced", at: 0),
            .fsync(1).must("ok"), .fdatasync(1).must("ok"),
            .open("f", O_RDONLY, slot: 2),
            .fsync(2).must("ok"), .fdatasync(2).must("ok"),
            .mkdir("d"), .writeFile("d/g", "g"),
            .fsyncDir("d").must("ok"), .fsyncDir(".").must("ok"),
            .open("d", O_RDONLY | O_DIRECTORY, slot: 3),
            .fsync(3).must("ok"), .fdatasync(3).must("ok"),
            .fsyncDir("f").must("ENOTDIR"),
            .close(1), .close(2), .close(3),
            .readFile("f").must("ok 6B \"synced\""),
        ], engine: engine))
    }

    @Test(arguments: TestEngine.allCases) func flockAndRecordLocksConflict(engine: TestEngine) throws {
        let (read, write, unlock) = (Int32(F_RDLCK), Int32(F_WRLCK), Int32(F_UNLCK))
        expectParity(try Parity.run([
            .writeFile("l", .pattern(1000)),
            .open("l", O_RDWR, slot: 1), .open("l", O_RDWR, slot: 2),
            .flock(1, LOCK_EX | LOCK_NB).must("ok"),
            .flock(2, LOCK_EX | LOCK_NB).must("EAGAIN"),
            .flock(2, LOCK_SH | LOCK_NB).must("EAGAIN"),
            .probeFlock("l").must("ok busy"),
            .flock(1, LOCK_UN).must("ok"),
            .flock(2, LOCK_SH | LOCK_NB).must("ok"),
            .flock(1, LOCK_SH | LOCK_NB).must("ok"),
            .probeFlock("l").must("ok busy"),
            .flock(1, LOCK_UN), .flock(2, LOCK_UN),
            .probeFlock("l").must("ok free"),
            .ofdLock(1, type: write, start: 0, length: 10).must("ok"),
            .ofdLock(2, type: write, start: 5, length: 10).must("EAGAIN"),
            .ofdLock(2, type: write, start: 10, length: 10).must("ok"),
            .ofdLock(2, type: read, start: 0, length: 5).must("EAGAIN"),
            .ofdLock(1, type: unlock, start: 0, length: 10).must("ok"),
            .ofdLock(2, type: read, start: 0, length: 5).must("ok"),
            .ofdLock(2, type: unlock, start: 0, length: 0).must("ok"),
            .posixLock(1, type: write, start: 100, length: 50).must("ok"),
            .probePosixLock("l", start: 120, length: 10).must("ok busy errno 11, held type=1 start=100 len=50 by parent"),
            .probePosixLock("l", start: 200, length: 10).must("ok free"),
            .posixLock(1, type: unlock, start: 100, length: 50).must("ok"),
            .probePosixLock("l", start: 120, length: 10).must("ok free"),
            .close(1), .close(2),
        ], engine: engine))
    }

    @Test(arguments: TestEngine.allCases) func mknodFifoAndSocket(engine: TestEngine) throws {
        expectParity(try Parity.run([
            .mknod("p", mode: S_IFIFO | 0o644).must("ok"),
            .stat("p").must("ok fifo 0644 size=0 nlink=1"),
            .mknod("p", mode: S_IFIFO | 0o644).must("EEXIST"),
            .open("p", O_RDONLY | O_NONBLOCK, slot: 1).must("ok"),
            .open("p", O_WRONLY | O_NONBLOCK, slot: 2).must("ok"),
            .write(2, "through the pipe").must("ok 16"),
            .read(1, count: 100).must("ok 16B \"through the pipe\""),
            .close(1), .close(2),
            .mknod("p2", mode: S_IFIFO | 0o600),
            .open("p2", O_WRONLY | O_NONBLOCK, slot: 3).must("ENXIO"),
            .mknod("sock", mode: S_IFSOCK | 0o600).must("ok"),
            .stat("sock").must("ok sock 0600 size=0 nlink=1"),
            .open("sock", O_RDONLY, slot: 4).must("ENXIO"),
            .mknod("reg", mode: S_IFREG | 0o600).must("ok"),
            .stat("reg").must("ok reg 0600 size=0 nlink=1"),
            .mknod("nodir/x", mode: S_IFIFO | 0o600).must("ENOENT"),
            .readdir(".").must("ok p:1 p2:1 reg:8 sock:12"),
            .rename("p", "p-renamed").must("ok"),
            .link("p-renamed", "p-link").must("ok"),
            .stat("p-link").must("ok fifo 0644 size=0 nlink=2"),
            .chmod("sock", 0o640).must("ok"),
            .stat("sock").must("ok sock 0640"),
            .unlink("p2").must("ok"),
            .mkdir("d"), .mknod("d/inner", mode: S_IFIFO | 0o600).must("ok"),
            .rmdir("d").must("ENOTEMPTY"),
        ], engine: engine))
    }
}
