/// Typed, position-aware access to one table of a pool file. Each accessor
/// turns a wrong type or range into a ConfigError that names the key and
/// points at the offending value.
struct ConfigTableReader {
    struct Located<Value> {
        var value: Value
        var position: TOMLPosition
    }

    let table: TOMLTable
    /// How messages name the table, e.g. "[pool]" or "[[silo]]".
    let name: String
    let file: String

    func error(_ message: String, at position: TOMLPosition?) -> ConfigError {
        ConfigError(file: file, at: position, message)
    }

    /// Unknown keys are errors so that typos do not silently fall back to defaults.
    func rejectUnknownKeys(allowed: [String]) throws(ConfigError) {
        for entry in table.entries where !allowed.contains(entry.key) {
            let key = TOMLLexer.render([entry.key])
            throw error("unknown key '\(key)' in \(name) (expected one of: \(allowed.joined(separator: ", ")))",
                        at: entry.keyPosition)
        }
    }

    func required<Value>(_ key: String, _ read: (String) throws(ConfigError) -> Located<Value>?) throws(ConfigError) -> Located<Value> {
        guard let found = try read(key) else {
            throw error("\(name) is missing required key '\(key)'", at: table.position)
        }
        return found
    }

    func string(_ key: String) throws(ConfigError) -> Located<String>? {
        guard let value = table[key] else { return nil }
        guard let text = value.string else { throw typeError(key, value, expected: "a string") }
        return Located(value: text, position: value.position)
    }

    func boolean(_ key: String) throws(ConfigError) -> Located<Bool>? {
        guard let value = table[key] else { return nil }
        guard let flag = value.boolean else { throw typeError(key, value, expected: "a boolean") }
        return Located(value: flag, position: value.position)
    }

    func integer(_ key: String, in range: ClosedRange<Int64>? = nil) throws(ConfigError) -> Located<Int>? {
        guard let value = table[key] else { return nil }
        guard let number = value.integer else { throw typeError(key, value, expected: "an integer") }
        if let range, !range.contains(number) {
            throw error("'\(key)' must be between \(range.lowerBound) and \(range.upperBound), not \(number)", at: value.position)
        }
        return Located(value: Int(number), position: value.position)
    }

    /// A duration; integers are accepted because "1" reads as naturally as "1.0".
    func seconds(_ key: String, maximum: Double) throws(ConfigError) -> Located<Double>? {
        guard let value = table[key] else { return nil }
        let seconds: Double
        switch value.kind {
        case .integer(let number): seconds = Double(number)
        case .float(let number): seconds = number
        default: throw typeError(key, value, expected: "a number of seconds")
        }
        guard seconds >= 0, seconds <= maximum else {
            throw error("'\(key)' must be between 0 and \(Int(maximum)) seconds", at: value.position)
        }
        return Located(value: seconds, position: value.position)
    }

    /// Integer bytes or a size string such as "20GiB" (see SizeParser).
    func size(_ key: String) throws(ConfigError) -> Located<UInt64>? {
        guard let value = table[key] else { return nil }
        switch value.kind {
        case .integer(let number):
            guard number >= 0 else { throw error("'\(key)' must not be negative", at: value.position) }
            return Located(value: UInt64(number), position: value.position)
        case .string(let text):
            do {
                return Located(value: try SizeParser.parse(text), position: value.position)
            } catch {
                throw self.error(sizeMessage(key, text, error), at: value.position)
            }
        default:
            throw typeError(key, value, expected: "an integer or a size string")
        }
    }

    func stringArray(_ key: String) throws(ConfigError) -> Located<[Located<String>]>? {
        guard let value = table[key] else { return nil }
        guard let elements = value.array else { throw typeError(key, value, expected: "an array of strings") }
        var strings: [Located<String>] = []
        for element in elements {
            guard let text = element.string else {
                throw error("'\(key)' must contain only strings, not \(Self.article(element.typeName))", at: element.position)
            }
            strings.append(Located(value: text, position: element.position))
        }
        return Located(value: strings, position: value.position)
    }

    func typeError(_ key: String, _ value: TOMLValue, expected: String) -> ConfigError {
        error("'\(key)' must be \(expected), not \(Self.article(value.typeName))", at: value.position)
    }

    static func article(_ typeName: String) -> String {
        ["a", "e", "i", "o", "u"].contains(typeName.first.map(String.init) ?? "") ? "an \(typeName)" : "a \(typeName)"
    }

    private func sizeMessage(_ key: String, _ text: String, _ failure: SizeParser.Failure) -> String {
        switch failure {
        case .empty: "'\(key)' must not be empty"
        case .negative: "'\(key)' must not be negative"
        case .tooLarge: "'\(key)' is too large: '\(text)'"
        case .malformed: "'\(key)' is not a size: '\(text)' (use bytes, or a number with K, M, G, T or P, e.g. \"20GiB\")"
        }
    }
}
