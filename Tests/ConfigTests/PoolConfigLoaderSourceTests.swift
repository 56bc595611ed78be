import Foundation
import Testing
@testable import Config

@Suite struct PoolConfigLoaderSourceTests {
    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cfgtest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func aTomlFileIsReadFromDisk() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("archive.toml").path
        try oneSilo().write(toFile: file, atomically: true, encoding: .utf8)
        let config = try PoolConfigLoader.load(source: file, environment: testEnvironment, isRoot: false)
        #expect(config.name == "archive")
        #expect(config.source == file)
        #expect(config.silos.first?.line == 1)
    }

    @Test func anExistingRegularFileIsAFileWhateverItsName() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("poolconf").path
        try oneSilo().write(toFile: file, atomically: true, encoding: .utf8)
        #expect(PoolConfigLoader.sourceIsFile(file))
        #expect(try PoolConfigLoader.load(source: file, environment: testEnvironment, isRoot: false).name == "poolconf")
        // A directory is a one-silo spec, not a file.
        #expect(!PoolConfigLoader.sourceIsFile(directory.path))
        let spec = try PoolConfigLoader.load(source: directory.path, environment: testEnvironment, isRoot: false)
        #expect(spec.silos.map(\.path) == [directory.path])
        #expect(spec.name.hasPrefix("zc-"))
    }

    @Test func aMissingTomlFileIsAnErrorNotASpec() {
        let file = "/nonexistent-\(UUID().uuidString)/media.toml"
        #expect(throws: ConfigError(file: file, message: "cannot open the configuration file: No such file or directory")) {
            try PoolConfigLoader.load(source: file, environment: testEnvironment, isRoot: false)
        }
    }

    @Test func aDirectoryNamedLikeATomlFileIsRejected() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let odd = directory.appendingPathComponent("odd.toml")
        try FileManager.default.createDirectory(at: odd, withIntermediateDirectories: true)
        #expect(throws: ConfigError(file: odd.path, message: "the configuration file is not a regular file")) {
            try PoolConfigLoader.load(source: odd.path, environment: testEnvironment, isRoot: false)
        }
    }

    @Test func specsAreParsedWhenNoFileMatches() throws {
        let config = try PoolConfigLoader.load(source: "/srv/a=fast:/srv/b", environment: testEnvironment, isRoot: true)
        #expect(config.stateDirectory == "/var/lib/estuary/\(config.name)")
        #expect(config.silos.map(\.tier) == ["fast", "fast"])
    }
}
