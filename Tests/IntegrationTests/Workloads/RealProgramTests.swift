import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Ordinary programs through a mount of two silos, compared with the same programs in a native
/// directory: their output, exit status and the tree they leave. Then the same again while
/// `estuary move` sends the files they touch back and forth between the tiers.
@Suite(.serialized, .timeLimit(.minutes(20)))
struct RealProgramTests {
    private func makePool() throws -> TestPool {
        try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], extraConfig: "extent_size = \"64KiB\"")
    }

    /// Rounds of each workload under moves: `make soak` runs many.
    static let roundsUnderMoves = Int(ProcessInfo.processInfo.environment["ESTUARY_WORKLOAD_ROUNDS"] ?? "") ?? 1

    /// Runs `workload` natively and in the mount and records every disagreement.
    private func compare(_ workload: Workload, _ pool: TestPool, fixtures: String, moving: Bool, round: Int = 0) throws {
        let directory = round == 0 ? workload.name : "\(workload.name)-\(round)"
        let native = pool.root + "/native/" + directory, mounted = pool.path(directory)
        try FileManager.default.createDirectory(atPath: native, withIntermediateDirectories: true)
        let expected = try workload.run(in: native, fixtures: fixtures)
        try FileManager.default.createDirectory(atPath: mounted, withIntermediateDirectories: true)
        let loop = moving ? MoveLoop(pool: pool, directory: mounted) : nil
        let seen = try workload.run(in: mounted, fixtures: fixtures)
        loop?.stop()
        if moving { _ = try pool.estuary(["jobs", "watch", pool.mountpoint]) }
        #expect(expected.status == 0, "\(workload) natively: \(expected.output)")
        #expect(seen == expected, "\(workload) through the mount\(moving ? " during moves" : ""):\n--- native\n\(expected.output)\n--- mount\n\(seen.output)")
        let problems = try WorkloadComparison.differences(native: native, mounted: mounted, comparesTimes: workload.comparesTimes)
        #expect(problems.isEmpty, "\(workload): the trees differ:\n  \(problems.prefix(12).joined(separator: "\n  "))")
    }

    @Test(arguments: Workload.all)
    func programAgreesWithNative(_ workload: Workload) throws {
        let pool = try makePool()
        let fixtures = try WorkloadFixtures.make(in: pool.root)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        try compare(workload, pool, fixtures: fixtures, moving: false)
    }

    @Test(arguments: Workload.all)
    func programAgreesWithNativeWhileItsFilesMove(_ workload: Workload) throws {
        let pool = try makePool()
        let fixtures = try WorkloadFixtures.make(in: pool.root)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        for round in 0..<Self.roundsUnderMoves { try compare(workload, pool, fixtures: fixtures, moving: true, round: round) }
        #expect(try pool.completedMoves() > 0, "\(workload): no move finished while it ran, so nothing was tested")
    }

    /// Programs that were in a silo before the first mount run, on every transport and read-only.
    @Test(arguments: [[], ["-o", "io_uring=off"], ["-o", "ro"]])
    func programsAlreadyInASiloRun(options: [String]) throws {
        let pool = try makePool()
        let bin = pool.siloPath("bulk0") + "/tools"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        #expect(try Shell.sh("cp /bin/echo '\(bin)/echo' && printf '#!/bin/sh\\necho script says $1\\n' > '\(bin)/say' && chmod 755 '\(bin)/say'").status == 0)
        try pool.mount(options: options)
        defer { _ = try? pool.unmount() }
        let binary = try Shell.run(pool.path("tools/echo"), ["binary", "runs"])
        #expect(binary.status == 0 && binary.stdout == "binary runs\n", "\(options): \(binary.output)")
        let script = try Shell.run(pool.path("tools/say"), ["hello"])
        #expect(script.status == 0 && script.stdout == "script says hello\n", "\(options): \(script.output)")
        let viaShell = try Shell.sh("cd '\(pool.path("tools"))' && ./say again && ./echo done")
        #expect(viaShell.stdout == "script says again\ndone\n", "\(options): \(viaShell.output)")
    }
}
