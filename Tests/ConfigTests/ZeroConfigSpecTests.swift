import Testing
@testable import Config

@Suite struct ZeroConfigSpecTests {
    private func pool(_ spec: String, environment: [String: String] = testEnvironment) throws(ConfigError) -> PoolConfig {
        try PoolConfigLoader.parse(spec: spec, environment: environment, isRoot: false)
    }

    @Test func tiersAreExplicitOrInherited() throws {
        let config = try pool("/a=fast:/b=bulk:/c")
        #expect(config.tiers == ["fast", "bulk"])
        #expect(config.silos == [
            SiloConfig(name: "a", path: "/a", tier: "fast"),
            SiloConfig(name: "b", path: "/b", tier: "bulk"),
            SiloConfig(name: "c", path: "/c", tier: "bulk"),
        ])
        #expect(config.source == "/a=fast:/b=bulk:/c")
        #expect(config.extentSize == PoolConfig.defaultExtentSize)
        #expect(config.stateDirectory == "/home/ada/.local/state/estuary/\(config.name)")
    }

    @Test func firstItemWithoutATierIsDefault() throws {
        let config = try pool("/a:/b:/c=cold:/d")
        #expect(config.tiers == ["default", "cold"])
        #expect(config.silos.map(\.tier) == ["default", "default", "cold", "cold"])
    }

    @Test func siloNamesComeFromTheLastComponentAndAreMadeUnique() throws {
        let config = try pool("/x/data:/y/data:/z/data-2:/w/data:/mnt/my disk:/mnt/é")
        #expect(config.silos.map(\.name) == ["data", "data-2", "data-2-2", "data-3", "my_disk", "_"])
        #expect(try pool("/").silos.map(\.name) == ["root"])
    }

    @Test func longNamesStayWithinTheLimitWhenMadeUnique() throws {
        let long = String(repeating: "d", count: 70)
        let config = try pool("/a/\(long):/b/\(long)")
        #expect(config.silos.map(\.name) == [String(repeating: "d", count: 64), String(repeating: "d", count: 62) + "-2"])
    }

    @Test func pathsAreNormalised() throws {
        let spec = try ZeroConfigSpec("//a/./b/=t:/c//")
        #expect(spec.items.map(\.path) == ["/a/b", "/c"])
        #expect(spec.normalised == "/a/b=t:/c=t")
        #expect(spec.items.map(\.column) == [1, 12])
    }

    @Test func poolNameIsAStableHashOfTheNormalisedSpec() throws {
        let spec = try ZeroConfigSpec("/a=fast:/b=bulk:/c")
        #expect(spec.normalised == "/a=fast:/b=bulk:/c=bulk")
        #expect(spec.poolName == "zc-" + FNV1a.hex64(FNV1a.hash64(Array("/a=fast:/b=bulk:/c=bulk".utf8))))
        #expect(try ZeroConfigSpec("/a/=fast:/b=bulk:/c=bulk").poolName == spec.poolName)
        #expect(try ZeroConfigSpec("/a=fast:/b=bulk:/c=fast").poolName != spec.poolName)
        #expect(spec.poolName.count == 19)
        #expect(ConfigName.isValid(spec.poolName))
    }

    @Test func fnv1aMatchesPublishedVectors() {
        #expect(FNV1a.hash64([UInt8]()) == 0xcbf2_9ce4_8422_2325)
        #expect(FNV1a.hash64(Array("a".utf8)) == 0xaf63_dc4c_8601_ec8c)
        #expect(FNV1a.hash64(Array("foobar".utf8)) == 0x8594_4171_f739_67e8)
        #expect(FNV1a.hex64(0xab) == "00000000000000ab")
    }

    @Test(arguments: [
        ("", 1, "the spec is empty; expected path[=tier]:path[=tier]..."),
        ("/a::/b", 4, "empty item; separate paths with a single ':'"),
        ("/a:", 4, "empty item; separate paths with a single ':'"),
        ("/a:b=fast", 4, "path 'b' in item 'b=fast' must be an absolute path"),
        ("/a:=fast", 4, "path '' in item '=fast' must be an absolute path"),
        ("/a=:/b", 1, "tier name '' in item '/a=' is invalid: use 1-64 characters from A-Z a-z 0-9 . _ - (not '.' or '..')"),
        ("/a=f s", 1, "tier name 'f s' in item '/a=f s' is invalid: use 1-64 characters from A-Z a-z 0-9 . _ - (not '.' or '..')"),
        ("/a:/x/../b", 4, "path '/x/../b' in item '/x/../b' must not contain '..'"),
        ("/a=t:/b:/a/", 9, "path '/a' is already used by the item at column 1"),
        ("/a=t:/a/b", 6, "path '/a/b' overlaps '/a' (item at column 1); silos cannot nest"),
        ("/a/b:/", 6, "path '/' overlaps '/a/b' (item at column 1); silos cannot nest"),
    ])
    func specErrors(_ spec: String, _ column: Int, _ message: String) {
        #expect(throws: ConfigError(file: "<spec>", line: 1, column: column, message: message)) {
            try pool(spec)
        }
    }

    @Test func specErrorDescription() {
        #expect(throws: ConfigError.self) { try pool("/a:b") }
        do {
            _ = try pool("/a:b")
        } catch {
            #expect(error.description == "<spec>:1:4: path 'b' in item 'b' must be an absolute path")
        }
    }

    @Test func stateDirectoryProblemsNameTheSpec() {
        #expect(throws: ConfigError(file: "<spec>", message: "ESTUARY_STATE_ROOT must be an absolute path, not 'rel'")) {
            try pool("/a", environment: ["ESTUARY_STATE_ROOT": "rel"])
        }
    }
}
