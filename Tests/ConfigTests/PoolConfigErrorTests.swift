import Testing
@testable import Config

/// A pool file and the exact diagnostic it must produce.
private struct BadPool: CustomTestStringConvertible, Sendable {
    var text: String
    var expected: String

    init(_ text: String, _ expected: String) {
        self.text = text
        self.expected = expected
    }

    var testDescription: String { expected }
}

@Suite struct PoolConfigErrorTests {
    @Test func duplicateSiloNamesNameBothLines() {
        let text = """
            [pool]
            name = "media"

            [[silo]]
            path = "/mnt/hdd1"
            tier = "bulk"
            name = "hdd1"

            [[silo]]
            path = "/mnt/hdd2"
            tier = "bulk"
            name = "hdd1"
            """
        let error = configError(text)
        #expect(error == ConfigError(file: mediaFile, line: 12, column: 8, message: "silo name 'hdd1' is already used on line 7"))
        #expect(error?.description == "/etc/estuary/media.toml:12:8: silo name 'hdd1' is already used on line 7")
    }

    private static let schemaCases: [BadPool] = [
        BadPool("[pool]\nnmae = \"x\"\n" + oneSilo(),
                "\(mediaFile):2:1: unknown key 'nmae' in [pool] (expected one of: name, state_dir, extent_size, entry_timeout, attr_timeout, negative_timeout, move_bandwidth, move_concurrency, heat_half_life, hold_down, reconcile_interval, metrics, rescan_interval, index, node_timeout, index_timeout)"),
        BadPool(oneSilo() + "[storage]\nx = 1\n",
                "\(mediaFile):5:1: unknown table [storage] (expected [pool], [tiers], [[silo]] or [[objective]])"),
        BadPool(oneSilo() + "[[silos]]\n",
                "\(mediaFile):5:1: unknown table [[silos]] (expected [pool], [tiers], [[silo]] or [[objective]])"),
        BadPool("verbose = true\n" + oneSilo(),
                "\(mediaFile):1:1: unknown key 'verbose' at the top level (expected [pool], [tiers], [[silo]] or [[objective]])"),
        BadPool(oneSilo("colour = \"red\"\n"),
                "\(mediaFile):5:1: unknown key 'colour' in [[silo]] (expected one of: name, path, tier, min_free, read_only, watch, kind, endpoint, bucket, prefix, region, credentials_file, addressing)"),
        BadPool("pool = 3\n" + oneSilo(), "\(mediaFile):1:8: 'pool' must be a table ([pool]), not an integer"),
        BadPool("[pool]\nname = 5\n" + oneSilo(), "\(mediaFile):2:8: 'name' must be a string, not an integer"),
        BadPool("[pool]\nname = \"my pool\"\n" + oneSilo(),
                "\(mediaFile):2:8: pool name 'my pool' is invalid: use 1-64 characters from A-Z a-z 0-9 . _ - (not '.' or '..')"),
        BadPool("[pool]\nname = \"..\"\n" + oneSilo(),
                "\(mediaFile):2:8: pool name '..' is invalid: use 1-64 characters from A-Z a-z 0-9 . _ - (not '.' or '..')"),
        BadPool("[pool]\nname = \"\(String(repeating: "n", count: 65))\"\n" + oneSilo(),
                "\(mediaFile):2:8: pool name '\(String(repeating: "n", count: 65))' is invalid: use 1-64 characters from A-Z a-z 0-9 . _ - (not '.' or '..')"),
        BadPool("[pool]\nstate_dir = \"var/lib\"\n" + oneSilo(), "\(mediaFile):2:13: 'state_dir' must be an absolute path"),
        BadPool("[pool]\nextent_size = 3000\n" + oneSilo(),
                "\(mediaFile):2:15: 'extent_size' must be a power of two from 64KiB to 1GiB, not 3000 bytes"),
        BadPool("[pool]\nextent_size = \"32KiB\"\n" + oneSilo(),
                "\(mediaFile):2:15: 'extent_size' must be a power of two from 64KiB to 1GiB, not 32768 bytes"),
        BadPool("[pool]\nextent_size = \"2GiB\"\n" + oneSilo(),
                "\(mediaFile):2:15: 'extent_size' must be a power of two from 64KiB to 1GiB, not 2147483648 bytes"),
        BadPool("[pool]\nextent_size = true\n" + oneSilo(),
                "\(mediaFile):2:15: 'extent_size' must be an integer or a size string, not a boolean"),
        BadPool("[pool]\nentry_timeout = -1\n" + oneSilo(), "\(mediaFile):2:17: 'entry_timeout' must be between 0 and 86400 seconds"),
        BadPool("[pool]\nattr_timeout = 86400.5\n" + oneSilo(), "\(mediaFile):2:16: 'attr_timeout' must be between 0 and 86400 seconds"),
        BadPool("[pool]\nnegative_timeout = nan\n" + oneSilo(),
                "\(mediaFile):2:20: 'negative_timeout' must be between 0 and 86400 seconds"),
        BadPool("[pool]\nentry_timeout = \"1s\"\n" + oneSilo(),
                "\(mediaFile):2:17: 'entry_timeout' must be a number of seconds, not a string"),
        BadPool("[pool]\nname = \"p\"\n", "\(mediaFile): no silos: add at least one [[silo]] table"),
        BadPool("[silo]\nname = \"a\"\n", "\(mediaFile):1:1: 'silo' must be an array of tables ([[silo]]), not a table"),
        BadPool("silo = [1]\n", "\(mediaFile):1:9: each 'silo' entry must be a table, not an integer"),
        BadPool("[[silo]]\npath = \"/a\"\ntier = \"t\"\n", "\(mediaFile):1:1: [[silo]] is missing required key 'name'"),
        BadPool("[[silo]]\nname = \"a\"\ntier = \"t\"\n", "\(mediaFile):1:1: [[silo]] is missing required key 'path'"),
        BadPool("[[silo]]\nname = \"a\"\npath = \"/a\"\n", "\(mediaFile):1:1: [[silo]] is missing required key 'tier'"),
        BadPool("[[silo]]\nname = \"a/b\"\n", "\(mediaFile):2:8: silo name 'a/b' is invalid: use 1-64 characters from A-Z a-z 0-9 . _ - (not '.' or '..')"),
        BadPool(oneSilo().substituting("\"/a\"", with: "\"mnt/a\""),
                "\(mediaFile):3:8: silo path 'mnt/a' must be an absolute path"),
        BadPool(oneSilo().substituting("\"/a\"", with: "\"/mnt/../a\""),
                "\(mediaFile):3:8: silo path '/mnt/../a' must not contain '..'"),
        BadPool(oneSilo().substituting("\"/a\"", with: "\"/a\\u0000\""),
                "\(mediaFile):3:8: silo path '/a\u{0}' must not contain a NUL character"),
        BadPool(oneSilo() + "[[silo]]\nname = \"b\"\npath = \"/a/\"\ntier = \"t\"\n",
                "\(mediaFile):7:8: silo path '/a' is already used by silo 'a' on line 3"),
        BadPool(oneSilo() + "[[silo]]\nname = \"b\"\npath = \"/a/b\"\ntier = \"t\"\n",
                "\(mediaFile):7:8: silo path '/a/b' is inside the path of silo 'a' on line 3"),
        BadPool(oneSilo().substituting("\"/a\"", with: "\"/a/b\"") + "[[silo]]\nname = \"b\"\npath = \"/a\"\ntier = \"t\"\n",
                "\(mediaFile):7:8: silo path '/a' contains the path of silo 'a' on line 3"),
        BadPool(oneSilo("read_only = \"yes\"\n"), "\(mediaFile):5:13: 'read_only' must be a boolean, not a string"),
        BadPool(oneSilo("watch = \"no\"\n"), "\(mediaFile):5:9: 'watch' must be a boolean, not a string"),
        BadPool("[pool]\nrescan_interval = -1\n" + oneSilo(), "\(mediaFile):2:19: 'rescan_interval' must be between 0 and 86400 seconds"),
        BadPool("[pool]\nrescan_interval = \"60s\"\n" + oneSilo(), "\(mediaFile):2:19: 'rescan_interval' must be a number of seconds, not a string"),
        BadPool("[tiers]\norder = [\"fast\", \"bulk\"]\n" + oneSilo(),
                "\(mediaFile):6:8: tier 't' is not in [tiers] order [\"fast\", \"bulk\"]"),
        BadPool("[tiers]\norder = [\"t\", \"t\"]\n" + oneSilo(), "\(mediaFile):2:15: tier 't' is listed twice in 'order'"),
        BadPool("[tiers]\norder = []\n" + oneSilo(), "\(mediaFile):2:9: 'order' must list at least one tier"),
        BadPool("[tiers]\norder = \"t\"\n" + oneSilo(), "\(mediaFile):2:9: 'order' must be an array of strings, not a string"),
        BadPool("[tiers]\norder = [\"t\", 2]\n" + oneSilo(), "\(mediaFile):2:15: 'order' must contain only strings, not an integer"),
        BadPool("[tiers]\norder = [\"no way\"]\n" + oneSilo(),
                "\(mediaFile):2:10: tier name 'no way' is invalid: use 1-64 characters from A-Z a-z 0-9 . _ - (not '.' or '..')"),
        BadPool("[tiers]\nfast = 1\n" + oneSilo(),
                "\(mediaFile):2:1: unknown key 'fast' in [tiers] (expected 'order' or [tiers.NAME] tables)"),
        BadPool("[tiers.t]\nhigh = 80\nlow = 90\n" + oneSilo(), "\(mediaFile):3:7: 'low' (90) must be less than 'high' (80)"),
        BadPool("[tiers.t]\nhigh = 101\nlow = 90\n" + oneSilo(), "\(mediaFile):2:8: 'high' must be between 1 and 100, not 101"),
        BadPool("[tiers.t]\nhigh = 80\n" + oneSilo(), "\(mediaFile):1:1: [tiers.t] is missing required key 'low'"),
        BadPool("[tiers.t]\nhigh = 80\nlow = 70\nmid = 75\n" + oneSilo(),
                "\(mediaFile):4:1: unknown key 'mid' in [tiers.t] (expected one of: high, low)"),
        BadPool("[tiers.nvme]\nhigh = 80\nlow = 70\n" + oneSilo(), "\(mediaFile):1:1: [tiers.nvme] is not a tier of this pool (tiers: t)"),
        BadPool(oneSilo("[[objective]]\nname = \"o\"\nplace = \"t\"\n"), "\(mediaFile):5:1: [[objective]] is missing required key 'where'"),
        BadPool(oneSilo("[[objective]]\nname = \"o\"\nwhere = \"x\"\nplace = \"ssd\"\n"),
                "\(mediaFile):8:9: objective 'o' places data on unknown tier 'ssd' (tiers: t)"),
        BadPool(oneSilo("[[objective]]\nname = \"o\"\nwhere = \"x\"\nplace = \"t\"\npriority = 1.5\n"),
                "\(mediaFile):9:12: 'priority' must be an integer, not a float"),
        BadPool(oneSilo("[[objective]]\nname = \"o\"\nwhere = \"x\"\nplace = \"t\"\n[[objective]]\nname = \"o\"\n"),
                "\(mediaFile):10:8: objective name 'o' is already used on line 6"),
        BadPool(oneSilo("[[objective]]\nname = \"o\"\nwhere = \"x\"\nplace = \"t\"\nwhen = 1\n"),
                "\(mediaFile):9:1: unknown key 'when' in [[objective]] (expected one of: name, where, place, priority)"),
    ]

    @Test(arguments: schemaCases)
    fileprivate func schemaErrors(_ testCase: BadPool) {
        #expect(configError(testCase.text)?.description == testCase.expected)
    }

    private static let sizeCases: [BadPool] = [
        BadPool(oneSilo("min_free = -1\n"), "\(mediaFile):5:12: 'min_free' must not be negative"),
        BadPool(oneSilo("min_free = \"-5G\"\n"), "\(mediaFile):5:12: 'min_free' must not be negative"),
        BadPool(oneSilo("min_free = \"lots\"\n"),
                "\(mediaFile):5:12: 'min_free' is not a size: 'lots' (use bytes, or a number with K, M, G, T or P, e.g. \"20GiB\")"),
        BadPool(oneSilo("min_free = \"20 GB extra\"\n"),
                "\(mediaFile):5:12: 'min_free' is not a size: '20 GB extra' (use bytes, or a number with K, M, G, T or P, e.g. \"20GiB\")"),
        BadPool(oneSilo("min_free = \"\"\n"), "\(mediaFile):5:12: 'min_free' must not be empty"),
        BadPool(oneSilo("min_free = \"16385P\"\n"), "\(mediaFile):5:12: 'min_free' is too large: '16385P'"),
        BadPool(oneSilo("min_free = \"99999999999999999999\"\n"), "\(mediaFile):5:12: 'min_free' is too large: '99999999999999999999'"),
        BadPool(oneSilo("min_free = 99999999999999999999\n"),
                "\(mediaFile):5:12: integer '99999999999999999999' does not fit in 64 bits"),
        BadPool(oneSilo("min_free = 1.5e9\n"), "\(mediaFile):5:12: 'min_free' must be an integer or a size string, not a float"),
    ]

    @Test(arguments: sizeCases)
    fileprivate func sizeErrors(_ testCase: BadPool) {
        #expect(configError(testCase.text)?.description == testCase.expected)
    }

    @Test func syntaxErrorsKeepTheFileName() {
        #expect(configError("[pool\n")?.description == "\(mediaFile):1:6: expected ']' to close the table header, found end of line")
    }

    @Test func invalidUTF8InAFileIsReportedWithItsLine() {
        let bytes = Array(oneSilo().utf8) + Array("# caf".utf8) + [0xE9] + [0x0A]
        #expect(throws: ConfigError(file: "p.toml", line: 5, column: 6, message: "invalid UTF-8 (byte 0xE9)")) {
            try PoolConfigLoader.parse(tomlBytes: bytes, file: "p.toml", environment: testEnvironment, isRoot: false)
        }
    }

    @Test func aFileNameThatIsNotAPoolNameNeedsAnExplicitName() {
        #expect(configError(oneSilo(), file: "/etc/my pool.toml")?.description
            == "/etc/my pool.toml: pool name 'my pool' taken from the file name is invalid: use 1-64 characters from A-Z a-z 0-9 . _ - (not '.' or '..'); set [pool] name")
        #expect(loadPool("[pool]\nname = \"ok\"\n" + oneSilo(), file: "/etc/my pool.toml")?.name == "ok")
    }
}
