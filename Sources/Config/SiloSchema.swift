/// `[[silo]]` tables, plus the checks that need all silos at once:
/// unique names, unique paths, and no silo inside another.
enum SiloSchema {
    typealias Located = ConfigTableReader.Located
    static let keys = ["name", "path", "tier", "min_free", "read_only", "watch", "kind",
                       "endpoint", "bucket", "prefix", "region", "credentials_file", "addressing"]
    static let bucketKeys = ["endpoint", "bucket", "prefix", "region", "credentials_file", "addressing"]

    /// What the cross-silo checks need to point back at the file.
    private struct Seen {
        var name: Located<String>
        var path: Located<String>
    }

    static func read(_ tables: [TOMLTable], order: [Located<String>]?, file: String) throws(ConfigError) -> [SiloConfig] {
        guard !tables.isEmpty else {
            throw ConfigError(file: file, line: nil, column: nil, message: "no silos: add at least one [[silo]] table")
        }
        var silos: [SiloConfig] = []
        var seen: [Seen] = []
        for table in tables {
            let reader = ConfigTableReader(table: table, name: "[[silo]]", file: file)
            try reader.rejectUnknownKeys(allowed: keys)
            let name = try reader.required("name", reader.string)
            guard ConfigName.isValid(name.value) else {
                throw reader.error("silo name '\(name.value)' is invalid: \(ConfigName.rule)", at: name.position)
            }
            if let first = seen.first(where: { $0.name.value == name.value }) {
                throw reader.error("silo name '\(name.value)' is already used on line \(first.name.position.line)",
                                   at: name.position)
            }
            let bucket = try BucketSchema.read(reader)
            let path: Located<String>
            if let bucket {
                let spelled = "s3://\(bucket.value.bucket)/\(bucket.value.prefix)"
                path = Located(value: spelled, position: bucket.position)
                if let other = seen.first(where: { $0.path.value == spelled }) {
                    throw reader.error("bucket '\(spelled)' is already used by silo '\(other.name.value)' on line \(other.path.position.line)",
                                       at: bucket.position)
                }
            } else {
                path = try normalisedPath(reader)
                try checkOverlap(path, name: name.value, with: seen, reader: reader)
            }
            let tier = try reader.required("tier", reader.string)
            try checkTier(tier, order: order, reader: reader)
            let minFree = try reader.size("min_free")?.value ?? 0
            let readOnly = try reader.boolean("read_only")?.value ?? false
            let watch = try reader.boolean("watch")?.value ?? true
            seen.append(Seen(name: name, path: path))
            var silo = SiloConfig(name: name.value, path: path.value, tier: tier.value,
                                  minFree: minFree, readOnly: readOnly, line: table.line)
            silo.watch = watch && bucket == nil
            silo.bucket = bucket?.value
            silos.append(silo)
        }
        return silos
    }

    private static func normalisedPath(_ reader: ConfigTableReader) throws(ConfigError) -> Located<String> {
        let raw = try reader.required("path", reader.string)
        do {
            return Located(value: try ConfigPath.normalised(raw.value), position: raw.position)
        } catch {
            throw reader.error("silo path '\(raw.value)' \(ConfigPath.explain(error))", at: raw.position)
        }
    }

    /// Nested silos would make one silo's files show up inside another's.
    private static func checkOverlap(
        _ path: Located<String>, name: String, with seen: [Seen], reader: ConfigTableReader
    ) throws(ConfigError) {
        for other in seen where !other.path.value.hasPrefix("s3://") {
            let line = other.path.position.line
            let otherName = other.name.value
            if other.path.value == path.value {
                throw reader.error("silo path '\(path.value)' is already used by silo '\(otherName)' on line \(line)",
                                   at: path.position)
            }
            if ConfigPath.isWithin(path.value, other.path.value) {
                throw reader.error(
                    "silo path '\(path.value)' is inside the path of silo '\(otherName)' on line \(line)", at: path.position)
            }
            if ConfigPath.isWithin(other.path.value, path.value) {
                throw reader.error(
                    "silo path '\(path.value)' contains the path of silo '\(otherName)' on line \(line)", at: path.position)
            }
        }
    }

    private static func checkTier(_ tier: Located<String>, order: [Located<String>]?, reader: ConfigTableReader) throws(ConfigError) {
        guard ConfigName.isValid(tier.value) else {
            throw reader.error("tier name '\(tier.value)' is invalid: \(ConfigName.rule)", at: tier.position)
        }
        guard let order, !order.contains(where: { $0.value == tier.value }) else { return }
        let listed = order.map { "\"\($0.value)\"" }.joined(separator: ", ")
        throw reader.error("tier '\(tier.value)' is not in [tiers] order [\(listed)]", at: tier.position)
    }
}
