import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What a system administrator gets besides the programs: versions, man pages, completion, the
/// installed tree, and a Debian package that installs, mounts and removes cleanly.
@Suite(.serialized)
struct PackageTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    @Test func bothProgramsReportOneVersion() throws {
        let cli = try Shell.run(Shell.estuary, ["--version"])
        let daemon = try Shell.run(Shell.estuaryfs, ["--version"])
        #expect(cli.status == 0 && daemon.status == 0)
        let version = cli.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(version.split(separator: ".").count == 3, "\(cli.output)")
        #expect(daemon.stdout == "estuaryfs \(version)\n", "\(daemon.output)")
    }

    @Test func completionScriptsCoverTheCommands() throws {
        for shell in ["bash", "zsh", "fish"] {
            let script = try Shell.run(Shell.estuary, ["--generate-completion-script", shell])
            #expect(script.status == 0, "\(shell): \(script.output)")
            for command in ["top", "move", "status"] { #expect(script.stdout.contains(command), "\(shell) lacks \(command)") }
        }
        let bash = try Shell.run(Shell.estuary, ["--generate-completion-script", "bash"])
        let file = NSTemporaryDirectory() + "estuary-completion-\(getpid()).bash"
        try bash.stdout.write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        let syntax = try Shell.run("/bin/bash", ["-n", file])
        #expect(syntax.status == 0, "\(syntax.output)")
    }

    @Test func manPagesFormatWithoutWarnings() throws {
        for page in ["estuaryfs.8", "estuary.8", "estuary.toml.5"] {
            let path = Self.repository + "/docs/man/" + page
            #expect(FileManager.default.fileExists(atPath: path), "\(path)")
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/groff") else { print("skipped groff check: no groff"); continue }
            let check = try Shell.run("/usr/bin/groff", ["-man", "-ww", "-z", path])
            #expect(check.status == 0 && check.stderr.isEmpty, "\(page): \(check.output)")
        }
    }

    @Test func installPutsEverythingInPlace() throws {
        let stage = NSTemporaryDirectory() + "estuary-install-\(getpid())"
        defer { _ = try? Shell.run("/bin/rm", ["-rf", stage]) }
        let install = try Shell.run("/usr/bin/make", ["-C", Self.repository, "--no-print-directory", "install-files",
                                                      "DESTDIR=\(stage)", "RELEASE_BIN=\(Shell.binDirectory)"])
        #expect(install.status == 0, "\(install.output)")
        for path in ["/usr/local/bin/estuaryfs", "/usr/local/bin/estuary", "/sbin/mount.estuary", "/sbin/mount.fuse.estuaryfs",
                     "/usr/local/share/man/man8/estuaryfs.8", "/usr/local/share/man/man8/estuary.8",
                     "/usr/local/share/man/man5/estuary.toml.5",
                     "/usr/local/share/bash-completion/completions/estuary", "/usr/local/share/zsh/vendor-completions/_estuary",
                     "/usr/local/share/fish/vendor_completions.d/estuary.fish", "/usr/local/lib/systemd/system/estuary@.service"] {
            #expect(FileManager.default.fileExists(atPath: stage + path), "\(path) not installed")
        }
        let uninstall = try Shell.run("/usr/bin/make", ["-C", Self.repository, "--no-print-directory", "uninstall", "DESTDIR=\(stage)"])
        #expect(uninstall.status == 0, "\(uninstall.output)")
        let left = try Shell.sh("find \(stage) -type f -o -type l")
        #expect(left.stdout.isEmpty, "left after uninstall: \(left.stdout)")
    }

    /// `make deb-check` builds the package and runs this with ESTUARY_DEB naming it.
    @Test func debianPackageInstallsMountsAndRemoves() throws {
        guard let deb = ProcessInfo.processInfo.environment["ESTUARY_DEB"] else {
            print("skipped: ESTUARY_DEB is not set (make deb-check builds the package and runs this test)")
            return
        }
        let install = try Shell.run("/usr/bin/dpkg", ["-i", deb], timeout: 300)
        #expect(install.status == 0, "\(install.output)")
        var removed = false
        defer { if !removed { _ = try? Shell.run("/usr/bin/dpkg", ["-r", "estuary"], timeout: 300) } }
        for path in ["/usr/bin/estuaryfs", "/usr/bin/estuary", "/usr/sbin/mount.estuary", "/usr/sbin/mount.fuse.estuaryfs",
                     "/usr/share/man/man8/estuaryfs.8.gz", "/usr/share/man/man5/estuary.toml.5.gz",
                     "/usr/share/bash-completion/completions/estuary", "/usr/lib/systemd/system/estuary@.service"] {
            #expect(FileManager.default.fileExists(atPath: path), "\(path) missing after dpkg -i")
        }
        let version = try Shell.run("/usr/bin/estuaryfs", ["--version"])
        #expect(version.status == 0 && version.stdout.hasPrefix("estuaryfs "), "\(version.output)")

        // Mount through mount(8) and the packaged helper, with the packaged daemon.
        let root = NSTemporaryDirectory() + "estuary-deb-\(getpid())"
        for dir in ["fast", "bulk", "mnt", "state"] { try FileManager.default.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true) }
        defer { _ = try? Shell.run("/bin/rm", ["-rf", root]) }
        try "[pool]\nname = \"debcheck\"\nstate_dir = \"\(root)/state\"\n[[silo]]\nname = \"fast\"\npath = \"\(root)/fast\"\ntier = \"fast\"\n[[silo]]\nname = \"bulk\"\npath = \"\(root)/bulk\"\ntier = \"bulk\"\n"
            .write(toFile: root + "/pool.toml", atomically: true, encoding: .utf8)
        let mount = try Shell.run("/bin/mount", ["-t", "fuse.estuaryfs", root + "/pool.toml", root + "/mnt"])
        #expect(mount.status == 0, "\(mount.output)")
        try Fixtures.write(root + "/mnt/hello.txt", "from the package")
        #expect(try String(contentsOfFile: root + "/mnt/hello.txt", encoding: .utf8) == "from the package")
        #expect(FileManager.default.fileExists(atPath: root + "/fast/hello.txt"))
        let log = (try? String(contentsOfFile: root + "/state/estuaryfs.log", encoding: .utf8)) ?? ""
        let umount = try Shell.run("/bin/umount", [root + "/mnt"])
        #expect(umount.status == 0, "\(umount.output) \(log)")

        let remove = try Shell.run("/usr/bin/dpkg", ["-r", "estuary"], timeout: 300)
        removed = true
        #expect(remove.status == 0, "\(remove.output)")
        for path in ["/usr/bin/estuaryfs", "/usr/sbin/mount.estuary", "/usr/share/man/man8/estuaryfs.8.gz",
                     "/usr/lib/systemd/system/estuary@.service"] {
            #expect(!FileManager.default.fileExists(atPath: path), "\(path) left after dpkg -r")
        }
        let status = try Shell.run("/usr/bin/dpkg-query", ["-W", "-f=${Status}", "estuary"])
        #expect(status.status != 0 || !status.stdout.contains("installed") || status.stdout.contains("not-installed"), "\(status.output)")
    }
}
