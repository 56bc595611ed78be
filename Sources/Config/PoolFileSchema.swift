/// Turns a parsed pool file into a PoolConfig: the top level and `[pool]`
/// here, the other sections in their own schema files.
enum PoolFileSchema {
    static let topLevelTables = ["pool", "tiers", "silo", "objective"]
    static let poolKeys = ["name", "state_dir", "extent_size", "entry_timeout", "attr_timeout", "negative_timeout",
                           "move_bandwidth", "move_concurrency", "heat_half_life", "hold_down", "reconcile_interval", "metrics",
                           "rescan_interval", "index", "node_timeout", "index_timeout"]
    static let extentSizeRange: ClosedRange<UInt64> = (64 << 10)...(1 << 30)
    static let maximumTimeout = 86_400.0

    static func decode(
        _ root: TOMLTable, file: String, environment: [String: String], isRoot: Bool
    ) throws(ConfigError) -> PoolConfig {
        try rejectUnknownTopLevel(root, file: file)
        let top = ConfigTableReader(table: root, name: "the top level", file: file)
        let pool = try table(top, "pool")
        let poolReader = ConfigTableReader(table: pool ?? TOMLTable(), name: "[pool]", file: file)
        try poolReader.rejectUnknownKeys(allowed: poolKeys)

        let name = try poolName(poolReader, file: file)
        let stateDirectory = try stateDirectory(poolReader)
        let extentSize = try extentSize(poolReader)
        let entryTimeout = try poolReader.seconds("entry_timeout", maximum: maximumTimeout)?.value
        let attrTimeout = try poolReader.seconds("attr_timeout", maximum: maximumTimeout)?.value
        let negativeTimeout = try poolReader.seconds("negative_timeout", maximum: maximumTimeout)?.value
        let moveBandwidth = try poolReader.size("move_bandwidth")?.value
        let moveConcurrency = try poolReader.integer("move_concurrency", in: 1...64)?.value
        let heatHalfLife = try poolReader.seconds("heat_half_life", maximum: 365 * 86_400)?.value
        let holdDown = try poolReader.seconds("hold_down", maximum: 365 * 86_400)?.value
        let reconcileInterval = try poolReader.seconds("reconcile_interval", maximum: 86_400)?.value
        let metrics = try poolReader.string("metrics")?.value
        let rescanInterval = try poolReader.seconds("rescan_interval", maximum: 86_400)?.value
        let index = try indexLocation(poolReader)
        let nodeTimeout = try poolReader.seconds("node_timeout", maximum: 86_400)?.value
        let indexTimeout = try poolReader.seconds("index_timeout", maximum: 86_400)?.value

        let tiersTable = try table(top, "tiers")
        let tiersReader = tiersTable.map { ConfigTableReader(table: $0, name: "[tiers]", file: file) }
        var order: [ConfigTableReader.Located<String>]?
        if let tiersReader { order = try TierSchema.readOrder(tiersReader) }
        let silos = try SiloSchema.read(try arrayOfTables(top, "silo"), order: order, file: file)
        let tiers = order?.map(\.value) ?? TierSchema.firstAppearance(of: silos)
        var watermarks: [String: TierWatermark] = [:]
        if let tiersReader { watermarks = try TierSchema.readWatermarks(tiersReader, tiers: tiers) }
        let objectives = try ObjectiveSchema.read(try arrayOfTables(top, "objective"), tiers: tiers, file: file)

        let resolvedStateDirectory: String
        if let stateDirectory {
            resolvedStateDirectory = stateDirectory
        } else {
            do {
                resolvedStateDirectory = try PoolConfigLoader.defaultStateDirectory(
                    poolName: name, environment: environment, isRoot: isRoot)
            } catch {
                throw ConfigError(file: file, message: error.message)
            }
        }
        var config = PoolConfig(
            name: name,
            stateDirectory: resolvedStateDirectory,
            extentSize: extentSize ?? PoolConfig.defaultExtentSize,
            entryTimeout: entryTimeout ?? PoolConfig.defaultEntryTimeout,
            attrTimeout: attrTimeout ?? PoolConfig.defaultAttrTimeout,
            negativeTimeout: negativeTimeout ?? PoolConfig.defaultNegativeTimeout,
            tiers: tiers,
            silos: silos,
            watermarks: watermarks,
            objectives: objectives,
            source: file)
        if let moveBandwidth { config.moveBandwidth = moveBandwidth }
        if let moveConcurrency { config.moveConcurrency = moveConcurrency }
        if let heatHalfLife { config.heatHalfLife = max(1, heatHalfLife) }
        if let holdDown { config.holdDown = holdDown }
        if let reconcileInterval { config.reconcileInterval = max(1, reconcileInterval) }
        config.metrics = metrics
        if let rescanInterval { config.rescanInterval = max(1, rescanInterval) }
        config.index = index
        if let indexTimeout { config.indexTimeout = indexTimeout }
        if let nodeTimeout { config.nodeTimeout = max(5, Int(nodeTimeout.rounded(.up))) }
        return config
    }

    private static func rejectUnknownTopLevel(_ root: TOMLTable, file: String) throws(ConfigError) {
        let expected = "expected [pool], [tiers], [[silo]] or [[objective]]"
        for entry in root.entries where !topLevelTables.contains(entry.key) {
            let key = TOMLLexer.render([entry.key])
            let isArrayOfTables = entry.value.array.map { !$0.isEmpty && $0.allSatisfy { $0.table != nil } } ?? false
            let message = switch entry.value.kind {
            case .table: "unknown table [\(key)] (\(expected))"
            case _ where isArrayOfTables: "unknown table [[\(key)]] (\(expected))"
            default: "unknown key '\(key)' at the top level (\(expected))"
            }
            throw ConfigError(file: file, at: entry.value.table != nil || isArrayOfTables ? entry.value.position : entry.keyPosition, message)
        }
    }

    // MARK: [pool]

    private static func poolName(_ reader: ConfigTableReader, file: String) throws(ConfigError) -> String {
        if let name = try reader.string("name") {
            guard ConfigName.isValid(name.value) else {
                throw reader.error("pool name '\(name.value)' is invalid: \(ConfigName.rule)", at: name.position)
            }
            return name.value
        }
        let derived = baseName(of: file)
        guard ConfigName.isValid(derived) else {
            throw reader.error(
                "pool name '\(derived)' taken from the file name is invalid: \(ConfigName.rule); set [pool] name",
                at: nil)
        }
        return derived
    }

    /// The file's last path component without its extension; a leading dot
    /// starts a hidden file's name rather than an extension.
    static func baseName(of file: String) -> String {
        let last = file.split(separator: "/").last.map(String.init) ?? ""
        guard let dot = last.lastIndex(of: "."), dot != last.startIndex else { return last }
        return String(last[..<dot])
    }

    private static func stateDirectory(_ reader: ConfigTableReader) throws(ConfigError) -> String? {
        guard let directory = try reader.string("state_dir") else { return nil }
        do {
            return try ConfigPath.normalised(directory.value)
        } catch {
            throw reader.error("'state_dir' \(ConfigPath.explain(error))", at: directory.position)
        }
    }

    /// `index`: a PostgreSQL URI. The value is not echoed in the error: it may hold a password.
    private static func indexLocation(_ reader: ConfigTableReader) throws(ConfigError) -> String? {
        guard let index = try reader.string("index") else { return nil }
        if let problem = IndexLocation.problem(index.value) { throw reader.error("'index' \(problem)", at: index.position) }
        return index.value
    }

    private static func extentSize(_ reader: ConfigTableReader) throws(ConfigError) -> Int? {
        guard let size = try reader.size("extent_size") else { return nil }
        guard extentSizeRange.contains(size.value), size.value & (size.value - 1) == 0 else {
            let low = SizeParser.describe(extentSizeRange.lowerBound)
            let high = SizeParser.describe(extentSizeRange.upperBound)
            throw reader.error(
                "'extent_size' must be a power of two from \(low) to \(high), not \(size.value) bytes", at: size.position)
        }
        return Int(size.value)
    }

    // MARK: Section shapes

    private static func table(_ reader: ConfigTableReader, _ key: String) throws(ConfigError) -> TOMLTable? {
        guard let value = reader.table[key] else { return nil }
        guard let table = value.table else { throw reader.typeError(key, value, expected: "a table ([\(key)])") }
        return table
    }

    /// `[[key]]` sections; an array of inline tables means the same and is accepted.
    private static func arrayOfTables(_ reader: ConfigTableReader, _ key: String) throws(ConfigError) -> [TOMLTable] {
        guard let value = reader.table[key] else { return [] }
        guard let elements = value.array else {
            throw reader.typeError(key, value, expected: "an array of tables ([[\(key)]])")
        }
        var tables: [TOMLTable] = []
        for element in elements {
            guard let table = element.table else {
                throw reader.error("each '\(key)' entry must be a table, not \(ConfigTableReader.article(element.typeName))",
                                   at: element.position)
            }
            tables.append(table)
        }
        return tables
    }
}
