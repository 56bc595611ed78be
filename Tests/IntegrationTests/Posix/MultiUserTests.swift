import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A second user (uid 4242, gid 4242, supplementary group 4343; no account needed) works in a
/// tree owned by root, natively and through a mount with allow_other. The user's side runs in a
/// child process under setpriv; both runs must print the same, and the key results are pinned.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct PosixMultiUserTests {
    static let uid: UInt32 = 4242, gid: UInt32 = 4242, supplementary: UInt32 = 4343, foreign: UInt32 = 5555

    /// The same tree on both sides: made before mounting, in the first silo for the mount.
    static func makeTree(_ root: String) throws {
        func file(_ path: String, _ content: String, _ mode: UInt32, gid: UInt32 = 0) throws {
            try Fixtures.write(root + "/" + path, content)
            guard chmod(root + "/" + path, mode) == 0, chown(root + "/" + path, 0, gid) == 0 else { throw Errno.current }
        }
        func dir(_ path: String, _ mode: UInt32, gid: UInt32 = 0) throws {
            try FileManager.default.createDirectory(atPath: root + "/" + path, withIntermediateDirectories: true)
            guard chmod(root + "/" + path, mode) == 0, chown(root + "/" + path, 0, gid) == 0 else { throw Errno.current }
        }
        try dir("rootdir", 0o755)
        try dir("shared", 0o777)
        try dir("sgid", 0o2777, gid: foreign)
        try dir("sticky", 0o1777)
        try dir("private", 0o700)
        try file("secret", "secret", 0o600)
        try file("rootdir/rootfile", "r", 0o644)
        try file("shared/rootwritable", "w", 0o666)
        try file("shared/suid", "s", 0o6676)
        try file("sticky/rootfile", "t", 0o666)
        try file("private/x", "x", 0o644)
    }

    static let script = #"""
    use strict; use warnings; use POSIX (); use Fcntl qw(O_WRONLY O_CREAT O_EXCL);
    umask 022; $| = 1;
    chdir $ARGV[0] or die "chdir $ARGV[0]: $!";
    sub report { my ($label, $ok) = @_; my $e = $! + 0; print "$label: ", ($ok ? "ok" : "errno $e"), "\n"; }
    sub show { my @s = lstat($_[0]); print "stat $_[0]: ", (@s ? sprintf("%04o uid=%d gid=%d", $s[2] & 07777, $s[4], $s[5]) : "errno " . ($! + 0)), "\n"; }
    sub create { my $ok = sysopen(my $fh, $_[0], O_WRONLY | O_CREAT | O_EXCL, $_[1]); close $fh if $ok; return $ok; }
    sub append { open(my $fh, ">>", $_[0]) or return 0; print $fh "x" or return 0; return close($fh); }
    report("read 0600 root file", open(my $r, "<", "secret"));
    report("list 0700 root dir", opendir(my $d, "private"));
    report("stat in 0700 root dir", scalar(lstat("private/x")));
    report("create in 0755 root dir", create("rootdir/mine", 0644));
    report("mkdir in 0755 root dir", mkdir("rootdir/sub", 0755));
    report("unlink in 0755 root dir", unlink("rootdir/rootfile"));
    report("rename out of 0755 root dir", rename("rootdir/rootfile", "shared/stolen"));
    report("write 0644 root file", open(my $w, ">>", "rootdir/rootfile"));
    report("chmod root file", chmod(0666, "shared/rootwritable"));
    report("chown root file", chown(4242, 4242, "shared/rootwritable"));
    report("explicit utime on root 0666 file", utime(1, 1, "shared/rootwritable"));
    report("utime now on root 0666 file", utime(undef, undef, "shared/rootwritable"));
    report("truncate root 0666 file", truncate("shared/rootwritable", 0));
    report("hard link to root 0666 file", link("shared/rootwritable", "shared/linkroot"));
    report("hard link to root 0600 file", link("secret", "shared/linksecret"));
    report("create in 0777 dir", create("shared/mine", 0640)); show("shared/mine");
    report("mkdir in 0777 dir", mkdir("shared/mydir", 0755)); show("shared/mydir");
    report("symlink in 0777 dir", symlink("mine", "shared/mylink")); show("shared/mylink");
    report("mkfifo in 0777 dir", POSIX::mkfifo("shared/myfifo", 0644)); show("shared/myfifo");
    report("create in setgid dir", create("sgid/f", 0644)); show("sgid/f");
    report("mkdir in setgid dir", mkdir("sgid/sub", 0755)); show("sgid/sub");
    report("create in inherited setgid dir", create("sgid/sub/g", 0644)); show("sgid/sub/g");
    report("chmod g+s with a foreign group", chmod(02755, "sgid/f")); show("sgid/f");
    report("chgrp to supplementary group", chown(-1, 4343, "shared/mine")); show("shared/mine");
    report("chgrp to foreign group", chown(-1, 5555, "shared/mine")); show("shared/mine");
    report("chown to root", chown(0, -1, "shared/mine"));
    report("chmod g+s with own group", chmod(02750, "shared/mine")); show("shared/mine");
    report("write to setuid setgid 06676 root file", append("shared/suid")); show("shared/suid");
    report("unlink root file in sticky dir", unlink("sticky/rootfile"));
    report("rename root file in sticky dir", rename("sticky/rootfile", "sticky/moved"));
    report("create in sticky dir", create("sticky/mine", 0644));
    report("rename own file in sticky dir", rename("sticky/mine", "sticky/mine2"));
    report("unlink own file in sticky dir", unlink("sticky/mine2"));
    report("rmdir own dir", rmdir("shared/mydir"));
    report("read own file", open(my $i, "<", "shared/mine"));
    """#

    /// What the user must see natively (and so through the mount), by label.
    static let pinned: [String: String] = [
        "read 0600 root file": "errno 13", "list 0700 root dir": "errno 13", "stat in 0700 root dir": "errno 13",
        "create in 0755 root dir": "errno 13", "mkdir in 0755 root dir": "errno 13", "unlink in 0755 root dir": "errno 13",
        "rename out of 0755 root dir": "errno 13", "write 0644 root file": "errno 13", "chmod root file": "errno 1",
        "chown root file": "errno 1", "explicit utime on root 0666 file": "errno 1", "utime now on root 0666 file": "ok",
        "truncate root 0666 file": "ok", "hard link to root 0666 file": "ok", "hard link to root 0600 file": "errno 1",
        "stat shared/mine": "2750 uid=4242 gid=4343", "stat shared/mydir": "0755 uid=4242 gid=4242",
        "stat shared/mylink": "0777 uid=4242 gid=4242", "stat shared/myfifo": "0644 uid=4242 gid=4242",
        "stat sgid/f": "0755 uid=4242 gid=5555", "stat sgid/sub": "2755 uid=4242 gid=5555", "stat sgid/sub/g": "0644 uid=4242 gid=5555",
        "chgrp to supplementary group": "ok", "chgrp to foreign group": "errno 1", "chown to root": "errno 1",
        "write to setuid setgid 06676 root file": "ok", "stat shared/suid": "0676 uid=0 gid=0",
        "unlink root file in sticky dir": "errno 1", "rename root file in sticky dir": "errno 1", "create in sticky dir": "ok",
        "unlink own file in sticky dir": "ok", "rmdir own dir": "ok", "read own file": "ok",
    ]

    private func runAsUser(_ scriptPath: String, _ root: String) throws -> [(label: String, base: String, value: String)] {
        let result = try Shell.run("/usr/bin/setpriv", ["--reuid=\(Self.uid)", "--regid=\(Self.gid)", "--groups=\(Self.supplementary)",
                                                        "/usr/bin/perl", scriptPath, root], timeout: 60)
        #expect(result.status == 0, "\(result.output)")
        var lines: [(label: String, base: String, value: String)] = []
        var seen: [String: Int] = [:]
        for line in result.stdout.split(separator: "\n") {
            guard let colon = line.range(of: ": ") else { continue }
            let base = String(line[..<colon.lowerBound])
            seen[base, default: 0] += 1
            // A path shown again after a change gets a numbered label.
            lines.append((seen[base]! > 1 ? "\(base) (\(seen[base]!))" : base, base, String(line[colon.upperBound...])))
        }
        return lines
    }

    private func readable(_ value: String) -> String {
        guard value.hasPrefix("errno "), let n = Int32(value.dropFirst(6)) else { return value }
        return errnoName(n)
    }

    @Test func secondUserSeesPosixPermissionsAndOwnership() throws {
        let pool = try TestPool()
        let native = pool.root + "/native"
        try Self.makeTree(native)
        try Self.makeTree(pool.siloPath("fast0"))
        let scriptPath = pool.root + "/second-user.pl"
        try Self.script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        try pool.mount(options: ["-o", "allow_other"])
        defer { _ = try? pool.unmount() }

        let nativeLines = try runAsUser(scriptPath, native)
        let mountLines = try runAsUser(scriptPath, pool.mountpoint)
        let mount = Dictionary(mountLines.map { ($0.label, $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(nativeLines.count >= 40, "the script stopped early: \(nativeLines)")
        var mismatches: [Mismatch] = []
        var lastNative: [String: String] = [:], lastMount: [String: String] = [:]
        for line in nativeLines { lastNative[line.base] = line.value }
        for line in mountLines { lastMount[line.base] = line.value }
        for (label, want) in Self.pinned.sorted(by: { $0.key < $1.key }) where !(lastNative[label] ?? "absent").hasPrefix(want) {
            mismatches.append(Mismatch(index: nil, what: "\(label) expected \(want) natively (test wrong?)",
                                       native: readable(lastNative[label] ?? "absent"), mount: readable(lastMount[label] ?? "absent")))
        }
        for line in nativeLines where mount[line.label] != line.value {
            mismatches.append(Mismatch(index: nil, what: line.label, native: readable(line.value), mount: readable(mount[line.label] ?? "absent")))
        }
        expectParity(mismatches)

        // The silos hold the user's files with the user's ownership.
        #expect(try pool.unmount() == 0)
        let merged = TreeSnapshot.expectedMerge(try pool.silos.map { try TreeSnapshot.take(pool.siloPath($0.name), skipReserved: true) })
        for (path, want) in [("shared/mine", "2750 4242 4343"), ("sgid/f", "755 4242 5555"), ("sgid/sub", "2755 4242 5555"),
                             ("shared/suid", "676 0 0")] {
            let entry = merged[Array(path.utf8)]
            #expect(entry.map { "\(String($0.mode & 0o7777, radix: 8)) \($0.uid) \($0.gid)" } == want, "\(path) in the silos")
        }
    }
}
