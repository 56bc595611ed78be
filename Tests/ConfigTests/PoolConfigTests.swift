import Testing
@testable import Config

@Suite struct PoolConfigTests {
    @Test func fullSchema() {
        let expected = PoolConfig(
            name: "media",
            stateDirectory: "/srv/estuary/media",
            extentSize: 1 << 20,
            entryTimeout: 2,
            attrTimeout: 0.5,
            negativeTimeout: 0.25,
            tiers: ["fast", "bulk"],
            silos: [
                SiloConfig(name: "nvme0", path: "/mnt/nvme0/pool", tier: "fast", minFree: 20 << 30, readOnly: false, line: 17),
                SiloConfig(name: "hdd1", path: "/mnt/hdd1/pool", tier: "bulk", minFree: 1 << 20, readOnly: true, line: 23),
            ],
            watermarks: ["fast": TierWatermark(high: 85, low: 70, line: 13)],
            objectives: [
                ObjectiveConfig(name: "recent", where: "mtime < 7d", place: "fast", priority: 10, line: 30),
                ObjectiveConfig(name: "rest", where: "true", place: "bulk", priority: nil, line: 36),
            ],
            source: mediaFile)
        #expect(loadPool(fullPoolFile) == expected)
    }

    @Test func defaultsFillEverythingOptional() {
        let config = loadPool(oneSilo(), file: "/etc/estuary/photos.toml")
        #expect(config?.name == "photos")
        #expect(config?.stateDirectory == "/home/ada/.local/state/estuary/photos")
        #expect(config?.extentSize == 4 << 20)
        #expect(config?.entryTimeout == 60.0)
        #expect(config?.attrTimeout == 60.0)
        #expect(config?.negativeTimeout == 60.0)
        #expect(config?.tiers == ["t"])
        #expect(config?.silos == [SiloConfig(name: "a", path: "/a", tier: "t", minFree: 0, readOnly: false, line: 1)])
        #expect(config?.watermarks == [:])
        #expect(config?.objectives == [])
        #expect(config?.source == "/etc/estuary/photos.toml")
    }

    /// Live assimilation: on by default, `watch = false` per silo, and the interval of the
    /// rescans for silos fanotify cannot follow.
    @Test func watchingOptions() {
        let defaults = loadPool(oneSilo())
        #expect(defaults?.silos.first?.watch == true)
        #expect(defaults?.rescanInterval == 60)
        let set = loadPool("[pool]\nrescan_interval = 5\n" + oneSilo("watch = false\n"))
        #expect(set?.silos.first?.watch == false)
        #expect(set?.rescanInterval == 5)
    }

    /// Several nodes: seconds before a silent node is dead (at least 5, two heartbeats) and
    /// before an unreachable index fails an operation.
    @Test func nodeAndIndexTimeouts() {
        let defaults = loadPool(oneSilo())
        #expect(defaults?.nodeTimeout == 10 && defaults?.indexTimeout == 10)
        let set = loadPool("[pool]\nnode_timeout = 30\nindex_timeout = 2.5\n" + oneSilo())
        #expect(set?.nodeTimeout == 30 && set?.indexTimeout == 2.5)
        #expect(loadPool("[pool]\nnode_timeout = 1\n" + oneSilo())?.nodeTimeout == 5)
    }

    @Test func tierOrderFollowsFirstUseWithoutAnExplicitOrder() {
        let text = """
            [[silo]]
            name = "x"
            path = "/x"
            tier = "warm"
            [[silo]]
            name = "y"
            path = "/y"
            tier = "cold"
            [[silo]]
            name = "z"
            path = "/z"
            tier = "warm"
            """
        #expect(loadPool(text)?.tiers == ["warm", "cold"])
    }

    @Test func explicitOrderMayListTiersWithoutSilos() {
        let config = loadPool("[tiers]\norder = [\"ssd\", \"t\", \"tape\"]\n" + oneSilo())
        #expect(config?.tiers == ["ssd", "t", "tape"])
    }

    @Test func inlineTablesAreAcceptedForSectionsToo() {
        let text = """
            pool = { name = "inline", extent_size = 65536 }
            silo = [ { name = "a", path = "/a", tier = "t" }, { name = "b", path = "/b", tier = "t", read_only = true } ]
            """
        let config = loadPool(text)
        #expect(config?.name == "inline")
        #expect(config?.extentSize == 65536)
        #expect(config?.silos.map(\.name) == ["a", "b"])
        #expect(config?.silos.map(\.line) == [2, 2])
        #expect(config?.silos.last?.readOnly == true)
    }

    @Test func silosPathsAreNormalised() {
        let text = oneSilo().substituting("\"/a\"", with: "\"//mnt/./a//data/\"")
        #expect(loadPool(text)?.silos.first?.path == "/mnt/a/data")
    }

    @Test(arguments: [("65536", 65536), ("\"64KiB\"", 65536), ("\"1GiB\"", 1 << 30), ("\"4M\"", 4 << 20)])
    func extentSizeBounds(_ written: String, _ bytes: Int) {
        #expect(loadPool("[pool]\nextent_size = \(written)\n" + oneSilo())?.extentSize == bytes)
    }

    @Test func poolNameFromFileNameDropsOnlyTheLastExtension() {
        #expect(loadPool(oneSilo(), file: "pools/a.b.toml")?.name == "a.b")
        #expect(loadPool(oneSilo(), file: "plain")?.name == "plain")
        #expect(PoolFileSchema.baseName(of: "/x/.hidden") == ".hidden")
    }

    @Test func configErrorDescriptionOmitsMissingParts() {
        #expect(ConfigError(file: "f", line: 3, column: 4, message: "m").description == "f:3:4: m")
        #expect(ConfigError(file: "f", line: 3, message: "m").description == "f:3: m")
        #expect(ConfigError(file: "f", message: "m").description == "f: m")
    }
}
