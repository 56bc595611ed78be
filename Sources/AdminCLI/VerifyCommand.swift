import ArgumentParser
import Config
import ControlProtocol
import Foundation

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Re-read files and check them against the hashes recorded when they were moved.",
        discussion: "Files in a bucket are checked against their object: present, the version and size the index holds, and bytes that give its ETag (the MD5 the upload checked). Exit status 1 when any extent differs from its recorded hash or an object is missing or differs.")

    @Argument(help: "Files or directories on a mounted pool, or with --silo the pool.") var targets: [String]
    @Option(help: "Verify every file on this silo (the first argument is then the pool).") var silo: String?
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        let config: Config.PoolConfig
        var paths: [String] = []
        if silo != nil {
            config = try PoolLocator.config(for: targets[0])
        } else {
            let first = try PoolLocator.mountedPool(containing: targets[0])
            config = first.config
            paths = [first.path] + (try targets.dropFirst().map { try PoolLocator.mountedPool(containing: $0).path })
        }
        let results = try PoolLocator.call(try PoolLocator.requireDaemon(config),
                                           ControlRequest(op: "verify", silo: silo, paths: paths)).verify ?? []
        if json { print(String(decoding: ControlCoding.encode(results, pretty: true), as: UTF8.self)) }
        else {
            for r in results where r.outcome != "unrecorded" { print("\(r.outcome.uppercased())  \(Format.name(r.path)) on \(r.silo): \(Format.text(r.detail))") }
            let counts = Dictionary(grouping: results, by: \.outcome).mapValues(\.count)
            print("verified \(results.count) file(s): \(counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))")
        }
        if results.contains(where: { $0.outcome == "mismatch" || $0.outcome == "missing" || $0.outcome == "unreadable" }) { throw ExitCode(1) }
    }
}
