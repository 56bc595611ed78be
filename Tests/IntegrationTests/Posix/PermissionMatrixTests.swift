import Foundation
import Testing

/// The permission parity matrix: the same fixture tree (directories and files of many modes,
/// owned by A or B, some in group G) is built as root natively and through a mount with
/// allow_other, and five callers (root, the owner A, B in G by a supplementary group, B with G
/// as primary gid, C in no group) each run the same operations on both: lookups through
/// directories, opens, access(2), exec, creates, links, removals, renames (within, across and
/// over, in sticky directories), chmod/chown/chgrp, utimes, truncate and user xattrs. Every
/// outcome must match, line by line: with the daemon checking permissions (the default) and
/// with `-o default_permissions` (the kernel checking them).
@Suite(.serialized, .timeLimit(.minutes(4)))
struct PermissionMatrixTests {
    /// Outcomes every native run must show, so a driver that went wrong (everything ENOENT, a
    /// caller not switched) fails rather than matching itself.
    static let pinned: [String: String] = [
        "root open_r files/f0000": "ok", "root exec files/f0600": "EACCES", "root access_x files/f0644": "EACCES",
        "A open_w files/f0400": "EACCES", "A chmod files/f0000.chmod": "ok 0001 2001:2001 size=17",
        "Bsupp open_r files/f0640": "ok", "Bprim open_r files/f0640": "ok", "C open_r files/f0640": "EACCES",
        "Bsupp open_r files/f0604": "EACCES", "C open_r files/f0604": "ok",
        "Bsupp listdir dirs/d0070b": "EACCES", "A listdir dirs/d0070b": "EACCES", "C lstat dirs/d0711/f": "ok",
        "C listdir dirs/d0711": "EACCES", "C create dirs/d0733/new_file": "ok 0644 2003:2003 size=0",
        "Bsupp create dirs/d2775/new_file": "ok 0644 2002:3000 size=0",
        "C unlink dirs/d1777/u_a": "EPERM", "A unlink dirs/d1777/u_a": "ok", "A unlink dirs/d1777a/u_b": "ok",
        "C rename_over dirs/d1777/ov_a->ov_b": "EPERM", "C rename_dir_out dirs/d0777/md": "EACCES",
        "C link_out dirs/d0755/f": "EPERM", "C utime_now files/f0644.utime_now": "EACCES",
        "A utime_explicit files/f0644.utime_explicit": "ok 0644 2001:2001 size=17",
        "A chgrp_G files/f0644.chgrp_G": "EPERM", "Bsupp chgrp_G files/f0660b.chgrp_G": "ok 0660 2002:3000 size=17",
        "Bsupp chmod meta/d2775.chmod": "EPERM", "A chmod meta/d2775.chmod": "ok 0774 2001:3000",
        "Bsupp setxattr meta/d1777.setxattr": "EPERM", "C setxattr files/f0644.setxattr": "EACCES",
        "A exec files/f4755": "ok", "C exec files/f0755": "ok", "C utime_now_omit meta/d0777.utime_now_omit": "EPERM",
        "C open_rtrunc files/f0644.open_rtrunc": "EACCES", "C exchange dirs/d1777/ex_a<->ex_b": "EPERM",
        "C exchange dirs/d0777/ex_a<->ex_b": "ok", "C mknod_chr dirs/d0777/new_null": "EPERM",
    ]

    enum Checker: String, Sendable, CaseIterable { case daemon, kernel }

    @Test(arguments: [(TestEngine.sqlite, Checker.daemon), (.postgresql, .daemon), (.sqlite, .kernel)])
    func everyCallerSeesNativePermissionsThroughTheMount(engine: TestEngine, checker: Checker) throws {
        let pool = try TestPool(engine: engine)
        try pool.mount(options: ["-o", checker == .kernel ? "allow_other,default_permissions" : "allow_other"])
        defer { _ = try? pool.unmount() }
        let script = pool.root + "/permission-matrix.py"
        try PermissionMatrixDriver.python.write(toFile: script, atomically: true, encoding: .utf8)
        let native = pool.root + "/native", mounted = pool.path("matrix")
        try run(script, ["build", native])
        try run(script, ["build", mounted])

        var mismatches: [Mismatch] = []
        var nativeOutcomes: [String: String] = [:]
        for caller in PermissionMatrixDriver.callers {
            let want = try outcomes(script, caller, native), got = try outcomes(script, caller, mounted)
            #expect(want.count > 600, "\(caller)'s native run stopped early: \(want.count) lines")
            #expect(want.map(\.key) == got.map(\.key), "\(caller): the two runs did different operations")
            let mount = Dictionary(got.map { ($0.key, $0.outcome) }, uniquingKeysWith: { a, _ in a })
            for line in want {
                nativeOutcomes[line.key] = line.outcome
                let seen = mount[line.key] ?? "absent"
                if seen == line.outcome { continue }
                // mknod of a device without CAP_MKNOD in a directory the caller may not write:
                // refused either way, but the kernel's capability check comes before the
                // daemon's write check (natively, after the kernel's own write check).
                if checker == .daemon && line.key.contains(" mknod_chr ") && line.outcome == "EACCES" && seen == "EPERM" { continue }
                mismatches.append(Mismatch(index: nil, what: line.key, native: line.outcome, mount: seen))
            }
        }
        for (key, pin) in Self.pinned.sorted(by: { $0.key < $1.key }) where nativeOutcomes[key] != pin {
            mismatches.append(Mismatch(index: nil, what: "\(key) expected \(pin) natively (driver wrong?)",
                                       native: nativeOutcomes[key] ?? "absent", mount: "-"))
        }
        #expect(nativeOutcomes.count > 3000)
        // What the operations left must agree too: an answer of "ok" for a change not made
        // (or an EACCES after making it) shows here.
        mismatches += Parity.compareTrees(try TreeSnapshot.take(native), try TreeSnapshot.take(mounted), label: "tree", xattrs: true)
        expectParity(mismatches)
    }

    /// Runs the driver as root (building a tree).
    private func run(_ script: String, _ arguments: [String]) throws {
        let result = try Shell.run("/usr/bin/python3", ["-I", script] + arguments, timeout: 300)
        if result.status != 0 { throw TestFailure("driver \(arguments): \(result.output)") }
    }

    /// One caller's run over its copy under `root`: key `CALLER OP PATH`, then the outcome.
    private func outcomes(_ script: String, _ caller: String, _ root: String) throws -> [(key: String, outcome: String)] {
        let python = ["/usr/bin/python3", "-I", script, "run", root, caller]
        let setpriv = PermissionMatrixDriver.setpriv(caller)
        let result = setpriv.isEmpty ? try Shell.run(python[0], Array(python.dropFirst()), timeout: 300)
                                     : try Shell.run("/usr/bin/setpriv", setpriv + python, timeout: 300)
        #expect(result.status == 0, "\(caller) in \(root): \(result.stderr)")
        return result.stdout.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", maxSplits: 3)
            guard fields.count == 4 else { return nil }
            return (key: fields[0...2].joined(separator: " "), outcome: String(fields[3]))
        }
    }
}
