import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// An unprivileged caller's write, truncate or chgrp clears setuid/setgid as ext4 does, through
/// every kind of handle: direct (write-only, read-write on an empty file), cached (read-write on
/// a file with data), path and descriptor truncates, open(O_TRUNC), and chgrp by the owner.
/// The daemon writes as root, so nothing clears them unless the kernel or the daemon does.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct SetuidClearingTests {
    /// Modes and groups where ext4 clears setuid, setgid, both or neither.
    static let cases: [(mode: UInt32, gid: UInt32)] = [(0o6676, 0), (0o6676, 4242), (0o6666, 0), (0o6666, 4242),
                                                       (0o2646, 0), (0o2656, 0), (0o4666, 0), (0o6777, 4343)]

    /// What user 4242 does to each file, in Perl (`$p` is the path), and the file's content first.
    enum Action: String, CaseIterable, CustomStringConvertible {
        case writeOnly, readWriteEmpty, readWriteCached, truncatePath, truncateHandle, openTruncate, chgrp
        var description: String { rawValue }
        var content: String { self == .readWriteEmpty ? "" : "some bytes" }
        var perl: String {
            switch self {
            case .writeOnly: #"sysopen(my $fh, $p, O_WRONLY) or die "open $p: $!"; syswrite($fh, "x") == 1 or die "write $p: $!";"#
            case .readWriteEmpty, .readWriteCached: #"sysopen(my $fh, $p, O_RDWR) or die "open $p: $!"; syswrite($fh, "x") == 1 or die "write $p: $!";"#
            case .truncatePath: #"truncate($p, 2) or die "truncate $p: $!";"#
            case .truncateHandle: #"sysopen(my $fh, $p, O_WRONLY) or die "open $p: $!"; truncate($fh, 3) or die "ftruncate $p: $!";"#
            case .openTruncate: #"sysopen(my $fh, $p, O_WRONLY | O_TRUNC) or die "open $p: $!";"#
            case .chgrp: #"chown(-1, 4343, $p) == 1 or die "chgrp $p: $!";"#
            }
        }
    }

    @Test(arguments: Action.allCases)
    func anUnprivilegedChangeClearsSetuidLikeALocalFileSystem(action: Action) throws {
        let pool = try TestPool()
        let native = pool.root + "/native"
        try FileManager.default.createDirectory(atPath: native, withIntermediateDirectories: true)
        let owner: uid_t = action == .chgrp ? 4242 : 0   // only the owner may chgrp
        for root in [native, pool.siloPath("fast0")] {
            for (i, c) in Self.cases.enumerated() {
                let path = root + "/f\(i)"
                try Fixtures.write(path, action.content)
                guard chown(path, owner, c.gid) == 0, chmod(path, c.mode) == 0 else { throw Errno.current }
            }
        }
        try pool.mount(options: ["-o", "allow_other"])
        defer { _ = try? pool.unmount() }
        let script = pool.root + "/act-as-user.pl"
        try """
        use strict; use warnings; use Fcntl qw(O_WRONLY O_RDWR O_TRUNC);
        for my $p (@ARGV) { \(action.perl) }
        """.write(toFile: script, atomically: true, encoding: .utf8)
        func files(_ root: String) -> [String] { Self.cases.indices.map { root + "/f\($0)" } }
        func modes(_ root: String) throws -> [String] {
            try files(root).map { path in
                var st = stat()
                guard lstat(path, &st) == 0 else { throw Errno.current }
                return "\(String(st.st_mode & 0o7777, radix: 8)) gid \(st.st_gid) size \(st.st_size)"
            }
        }
        func modesAfter(_ root: String) throws -> [String] {
            let result = try Shell.run("/usr/bin/setpriv", ["--reuid=4242", "--regid=4242", "--groups=4343", "/usr/bin/perl", script] + files(root), timeout: 60)
            #expect(result.status == 0, "\(result.output)")
            return try modes(root)
        }
        let want = try modesAfter(native)
        let cleared = zip(want, Self.cases).filter { !$0.0.hasPrefix(String($0.1.mode, radix: 8) + " ") }
        #expect(!cleared.isEmpty, "native reference clears something: \(want)")
        let got = try modesAfter(pool.mountpoint)
        #expect(got == want, "mount \(got), ext4 \(want)")
        // The index agrees with the silo after a remount (nothing only in the kernel's cache).
        _ = try pool.unmount()
        try pool.mount(options: ["-o", "allow_other"])
        #expect(try modes(pool.mountpoint) == want)
    }
}
