import Testing
@testable import Config

@Suite struct StateDirectoryTests {
    private func directory(_ environment: [String: String], isRoot: Bool) throws -> String {
        try PoolConfigLoader.defaultStateDirectory(poolName: "media", environment: environment, isRoot: isRoot)
    }

    @Test func rootUsesVarLib() throws {
        #expect(try directory(["HOME": "/root", "XDG_STATE_HOME": "/x"], isRoot: true) == "/var/lib/estuary/media")
    }

    @Test func usersPreferXDGStateHome() throws {
        #expect(try directory(["HOME": "/home/ada", "XDG_STATE_HOME": "/home/ada/state/"], isRoot: false)
            == "/home/ada/state/estuary/media")
    }

    @Test func usersFallBackToHome() throws {
        #expect(try directory(["HOME": "/home/ada/"], isRoot: false) == "/home/ada/.local/state/estuary/media")
        #expect(try directory(["HOME": "/"], isRoot: false) == "/.local/state/estuary/media")
    }

    @Test func relativeXDGStateHomeIsIgnored() throws {
        #expect(try directory(["HOME": "/home/ada", "XDG_STATE_HOME": "state"], isRoot: false)
            == "/home/ada/.local/state/estuary/media")
    }

    @Test(arguments: [true, false])
    func stateRootOverrideWinsForEveryone(isRoot: Bool) throws {
        let environment = ["HOME": "/home/ada", "XDG_STATE_HOME": "/xdg", "ESTUARY_STATE_ROOT": "/tmp/run1/"]
        #expect(try directory(environment, isRoot: isRoot) == "/tmp/run1/media")
    }

    @Test func emptyStateRootIsUnset() throws {
        #expect(try directory(["ESTUARY_STATE_ROOT": "", "HOME": "/h"], isRoot: false) == "/h/.local/state/estuary/media")
    }

    @Test func relativeStateRootIsAnError() {
        #expect(throws: ConfigError(file: "<environment>", message: "ESTUARY_STATE_ROOT must be an absolute path, not 'tmp'")) {
            try directory(["ESTUARY_STATE_ROOT": "tmp"], isRoot: true)
        }
    }

    @Test func withoutAnyHomeUsersMustSetStateDir() {
        let expected = "cannot choose a state directory: set HOME or XDG_STATE_HOME to an absolute path, or set [pool] state_dir"
        #expect(throws: ConfigError(file: "<environment>", message: expected)) {
            try directory([:], isRoot: false)
        }
        #expect(configError(oneSilo(), environment: [:])?.description == "\(mediaFile): \(expected)")
        #expect(loadPool("[pool]\nstate_dir = \"/s\"\n" + oneSilo(), environment: [:])?.stateDirectory == "/s")
    }

    @Test func loaderAppliesTheDefaults() {
        #expect(loadPool(oneSilo(), isRoot: true)?.stateDirectory == "/var/lib/estuary/media")
        #expect(loadPool(oneSilo(), environment: ["ESTUARY_STATE_ROOT": "/t"], isRoot: true)?.stateDirectory == "/t/media")
    }
}
