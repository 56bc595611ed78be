/// `[[objective]]` tables. Only their shape is checked; the `where`
/// expression is stored verbatim until placement rules are implemented.
enum ObjectiveSchema {
    static let keys = ["name", "where", "place", "priority"]

    static func read(_ tables: [TOMLTable], tiers: [String], file: String) throws(ConfigError) -> [ObjectiveConfig] {
        var objectives: [ObjectiveConfig] = []
        var lineByName: [String: Int] = [:]
        for table in tables {
            let reader = ConfigTableReader(table: table, name: "[[objective]]", file: file)
            try reader.rejectUnknownKeys(allowed: keys)
            let name = try reader.required("name", reader.string)
            guard !name.value.isEmpty else {
                throw reader.error("objective name must not be empty", at: name.position)
            }
            if let line = lineByName[name.value] {
                throw reader.error("objective name '\(name.value)' is already used on line \(line)", at: name.position)
            }
            lineByName[name.value] = name.position.line
            let condition = try reader.required("where", reader.string)
            let place = try reader.required("place", reader.string)
            guard tiers.contains(place.value) else {
                throw reader.error(
                    "objective '\(name.value)' places data on unknown tier '\(place.value)' (tiers: \(tiers.joined(separator: ", ")))",
                    at: place.position)
            }
            let priority = try reader.integer("priority")?.value
            objectives.append(ObjectiveConfig(name: name.value, where: condition.value, place: place.value,
                                              priority: priority, line: table.line))
        }
        return objectives
    }
}
