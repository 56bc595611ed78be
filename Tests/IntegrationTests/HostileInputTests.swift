import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Hostile names, symlink games inside silos, xattrs at and past the limits, and a fuzzed
/// control socket: clear errors, nothing touched outside a silo, the daemon keeps serving.
@Suite(.serialized)
struct HostileInputTests {
    @Test func namesWithEveryByteRoundTrip() throws {
        let pool = try TestPool()
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let dir = pool.path("names")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var names: [[UInt8]] = (1...255).filter { $0 != 47 && $0 != 46 }.map { [UInt8($0)] }
        names.append((1...255).filter { $0 != 47 }.map(UInt8.init).prefix(255).map { $0 })   // every byte but "/" and NUL
        names.append([46, 46, 46])
        let dirFD = try Sys.open(dir, flags: O_RDONLY | O_DIRECTORY)
        defer { close(dirFD) }
        for name in names {
            let fd = withCPath(name) { openat(dirFD, $0, O_WRONLY | O_CREAT | O_EXCL, 0o644) }
            #expect(fd >= 0, "create \(displayName(name)): \(Errno.current)")
            if fd >= 0 { try Sys.writeAll(fd, name); close(fd) }
        }
        let listed = Set(try TreeSnapshot.take(dir).keys)
        #expect(listed == Set(names))
        let silo = try TreeSnapshot.take(pool.siloPath("fast0") + "/names")
        #expect(Set(silo.keys) == Set(names), "the silo holds the same raw names")
        for name in names { #expect(silo[name]?.content == name) }
        let tooLong = [UInt8](repeating: 0x61, count: 256)
        #expect(withCPath(tooLong) { openat(dirFD, $0, O_WRONLY | O_CREAT, 0o644) } < 0 && errno == ENAMETOOLONG)
    }

    @Test func symlinkGamesInsideASiloNeverReachOutside() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], extraConfig: "move_bandwidth = \"1MiB\"\nextent_size = \"64KiB\"")
        let outside = pool.root + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try Fixtures.write(pool.siloPath("fast0") + "/d/inside.txt", "inside")
        try Fixtures.write(pool.siloPath("fast0") + "/p/moving.bin", String(repeating: "m", count: 3 << 20))
        try FileManager.default.createDirectory(atPath: pool.siloPath("bulk0") + "/p", withIntermediateDirectories: true)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        // A directory swapped for a symlink to outside the silo, behind the daemon's back.
        try FileManager.default.moveItem(atPath: pool.siloPath("fast0") + "/d", toPath: pool.root + "/d-aside")
        try FileManager.default.createSymbolicLink(atPath: pool.siloPath("fast0") + "/d", withDestinationPath: outside)
        try FileManager.default.createSymbolicLink(atPath: outside + "/inside.txt", withDestinationPath: "/etc/hostname")
        #expect(open(pool.path("d/inside.txt"), O_RDONLY) < 0, "reading through a swapped directory must fail")
        #expect(open(pool.path("d/new.txt"), O_WRONLY | O_CREAT, 0o644) < 0, "creating through it must fail")
        #expect(mkdir(pool.path("d/sub"), 0o755) != 0)
        // A move whose destination directory is swapped for a symlink while it runs.
        #expect(try pool.estuary(["move", pool.path("p/moving.bin"), "--to", "bulk"]).status == 0)
        usleep(300_000)
        try FileManager.default.removeItem(atPath: pool.siloPath("bulk0") + "/p")
        try FileManager.default.createSymbolicLink(atPath: pool.siloPath("bulk0") + "/p", withDestinationPath: outside)
        _ = try pool.estuary(["jobs", "watch", pool.mountpoint])
        #expect(try String(contentsOfFile: pool.path("p/moving.bin"), encoding: .utf8).count == 3 << 20)
        let stray = try FileManager.default.contentsOfDirectory(atPath: outside).filter { $0 != "inside.txt" }
        #expect(stray.isEmpty, "nothing may appear outside the silos: \(stray)")
        #expect(try String(contentsOfFile: "/etc/hostname", encoding: .utf8).isEmpty == false)
    }

    @Test func xattrsAtAndPastTheLimitsBehaveLikeTheSilo() throws {
        let pool = try TestPool()
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let native = pool.root + "/native.txt"
        try "n".write(toFile: native, atomically: false, encoding: .utf8)
        try "m".write(toFile: pool.path("mounted.txt"), atomically: false, encoding: .utf8)
        func outcome(_ path: String, _ name: String, _ size: Int) -> Int32 {
            do { try Sys.setXattr(path: path, name: name, value: [UInt8](repeating: 0x41, count: size)); return 0 }
            catch { return error.rawValue }
        }
        let longest = "user." + String(repeating: "k", count: 250)
        let tooLong = longest + "k"
        for (name, size) in [(longest, 10), (tooLong, 10), ("user.big", 4000), ("user.huge", 65536), ("user.over", 65537)] {
            #expect(outcome(pool.path("mounted.txt"), name, size) == outcome(native, name, size), "\(name.prefix(12))… \(size) bytes")
        }
        #expect(outcome(pool.path("mounted.txt"), "user.estuary.tier", 4) == EINVAL, "reserved names are refused")
        #expect(outcome(pool.path("mounted.txt"), "trusted.x", 4) != 0)
        let status = try pool.estuary(["status", pool.mountpoint])
        #expect(status.status == 0)
    }

    @Test func fuzzedControlSocketNeverBringsTheDaemonDown() throws {
        let rounds = Int(ProcessInfo.processInfo.environment["ESTUARY_FUZZ_ROUNDS"] ?? "") ?? 150
        let pool = try TestPool()
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let script = """
        import json, random, socket, sys
        path, rounds = sys.argv[1], int(sys.argv[2])
        rng = random.Random(20261121)
        ops = ["scan", "status", "move", "jobs", "cancel", "heat", "drain", "undrain", "verify", "fsck", "ping", "", "x" * 300]
        values = [None, 0, -1, 2**63, 1e308, "", "../../etc", "\\u0000", [], {}, [1, "a"], True, "fast", "a" * 5000]
        for i in range(rounds):
            kind = rng.randrange(3)
            if kind == 0:
                payload = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000))) + b"\\n"
            elif kind == 1:
                request = {"op": rng.choice(ops)}
                for key in ["silo", "paths", "to", "recursive", "id", "all", "top", "adopt"]:
                    if rng.random() < 0.5: request[key] = rng.choice(values)
                payload = json.dumps(request).encode() + b"\\n"
            else:
                payload = json.dumps({"op": "status"}).encode()[: rng.randrange(1, 15)] + b"\\n"
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(10)
            try:
                s.connect(path)
                s.sendall(payload)
                # Half the clients hang up mid-request; the others wait for the answer.
                if rng.random() < 0.5: s.shutdown(socket.SHUT_WR)
                else: s.recv(65536)
            except Exception:
                pass
            finally:
                s.close()
        """
        let run = try Shell.run("/usr/bin/python3", ["-c", script, pool.root + "/state/control.sock", String(rounds)], timeout: 300)
        #expect(run.status == 0, "\(run.stderr.suffix(600))")
        let status = try pool.estuary(["status", pool.mountpoint])
        #expect(status.status == 0 && status.stdout.contains("mounted at"), "\(status.output)")
    }
}
