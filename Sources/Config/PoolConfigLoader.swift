#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Entry points that turn a pool source (a TOML file or a zero-config spec)
/// into a checked PoolConfig. The environment and root-ness are parameters
/// so that tests can pin down the default state directory.
public enum PoolConfigLoader {
    /// SOURCE is a TOML file when it names an existing regular file or ends
    /// in ".toml"; otherwise it is a zero-config spec.
    public static func load(
        source: String,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        isRoot: Bool = geteuid() == 0
    ) throws(ConfigError) -> PoolConfig {
        guard sourceIsFile(source) else {
            return try parse(spec: source, environment: environment, isRoot: isRoot)
        }
        let bytes = try ConfigFileReader.contents(of: source)
        return try parse(tomlBytes: bytes, file: source, environment: environment, isRoot: isRoot)
    }

    public static func sourceIsFile(_ source: String) -> Bool {
        source.hasSuffix(".toml") || ConfigFileReader.isRegularFile(source)
    }

    /// FILE names the document in messages and, without `[pool] name`, the pool.
    public static func parse(
        toml: String,
        file: String,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        isRoot: Bool = geteuid() == 0
    ) throws(ConfigError) -> PoolConfig {
        try parse(tomlBytes: Array(toml.utf8), file: file, environment: environment, isRoot: isRoot)
    }

    /// As `parse(toml:…)`, for raw file contents; invalid UTF-8 is reported with its line.
    public static func parse(
        tomlBytes: [UInt8],
        file: String,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        isRoot: Bool = geteuid() == 0
    ) throws(ConfigError) -> PoolConfig {
        let document: TOMLTable
        do {
            document = try TOMLParser.parse(tomlBytes)
        } catch {
            throw ConfigError(file: file, syntax: error)
        }
        return try PoolFileSchema.decode(document, file: file, environment: environment, isRoot: isRoot)
    }

    public static func parse(
        spec: String,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        isRoot: Bool = geteuid() == 0
    ) throws(ConfigError) -> PoolConfig {
        let parsed = try ZeroConfigSpec(spec)
        let stateDirectory: String
        do {
            stateDirectory = try defaultStateDirectory(poolName: parsed.poolName, environment: environment, isRoot: isRoot)
        } catch {
            throw ConfigError(file: ZeroConfigSpec.file, message: error.message)
        }
        let silos = parsed.items.map { SiloConfig(name: $0.siloName, path: $0.path, tier: $0.tier) }
        return PoolConfig(name: parsed.poolName, stateDirectory: stateDirectory, tiers: parsed.tiers,
                          silos: silos, source: spec)
    }
}
