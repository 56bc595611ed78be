import Testing
@testable import Config

let testEnvironment = ["HOME": "/home/ada"]
let mediaFile = "/etc/estuary/media.toml"

/// A pool file that uses every part of the schema.
let fullPoolFile = """
    # Media pool
    [pool]
    name = "media"
    state_dir = "/srv/estuary//media/"
    extent_size = "1MiB"
    entry_timeout = 2
    attr_timeout = 0.5
    negative_timeout = 0.25

    [tiers]
    order = ["fast", "bulk"]

    [tiers.fast]
    high = 85
    low = 70

    [[silo]]
    name = "nvme0"
    path = "/mnt/nvme0/pool"
    tier = "fast"
    min_free = "20GiB"

    [[silo]]
    name = "hdd1"
    path = "/mnt/hdd1/pool/"
    tier = "bulk"
    min_free = 1048576
    read_only = true

    [[objective]]
    name = "recent"
    where = "mtime < 7d"
    place = "fast"
    priority = 10

    [[objective]]
    name = "rest"
    where = "true"
    place = "bulk"

    """

func loadPool(_ text: String, file: String = mediaFile, environment: [String: String] = testEnvironment,
              isRoot: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) -> PoolConfig? {
    do {
        return try PoolConfigLoader.parse(toml: text, file: file, environment: environment, isRoot: isRoot)
    } catch {
        Issue.record("unexpected config error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

func configError(_ text: String, file: String = mediaFile, environment: [String: String] = testEnvironment,
                 isRoot: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) -> ConfigError? {
    do {
        let config = try PoolConfigLoader.parse(toml: text, file: file, environment: environment, isRoot: isRoot)
        Issue.record("expected a config error, got pool \(config.name)", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// A minimal valid pool whose `[[silo]]` starts on line 1.
func oneSilo(_ extra: String = "") -> String {
    "[[silo]]\nname = \"a\"\npath = \"/a\"\ntier = \"t\"\n" + extra
}

extension String {
    /// Named apart from Foundation's replacingOccurrences so that no file's imports can make it ambiguous.
    func substituting(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
