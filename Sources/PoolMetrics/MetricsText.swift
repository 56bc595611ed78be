/// Samples read back from Prometheus text (what `estuary top` gets from the daemon). Reading
/// only: label values are taken as the exporter writes them, quoted with `\\`, `\"` and `\n`
/// escapes.
public struct MetricSample: Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    public var value: Double
}

public struct MetricsText: Sendable {
    public let samples: [MetricSample]

    public init(parsing text: String) {
        samples = text.split(separator: "\n").compactMap { MetricsText.sample(Substring($0)) }
    }

    /// The sum of every sample named `name` whose labels include `matching`.
    public func sum(_ name: String, _ matching: [String: String] = [:]) -> Double {
        samples.lazy.filter { sample in sample.name == name && matching.allSatisfy { key, value in sample.labels[key] == value } }
            .reduce(0) { $0 + $1.value }
    }

    /// Every distinct value of `label` among samples named `name`.
    public func values(of label: String, in name: String) -> [String] {
        var seen: [String] = []
        for sample in samples where sample.name == name {
            if let value = sample.labels[label], !seen.contains(value) { seen.append(value) }
        }
        return seen
    }

    private static func sample(_ line: Substring) -> MetricSample? {
        if line.isEmpty || line.hasPrefix("#") { return nil }
        var labels: [String: String] = [:]
        let name: Substring, rest: Substring
        if let brace = line.firstIndex(of: "{") {
            name = line[..<brace]
            var i = line.index(after: brace)
            while i < line.endIndex && line[i] != "}" {
                guard let equals = line[i...].firstIndex(of: "="), line.index(after: equals) < line.endIndex,
                      line[line.index(after: equals)] == "\"" else { return nil }
                let key = String(line[i..<equals]).trimmingSpaces
                var j = line.index(equals, offsetBy: 2)
                var value = ""
                while j < line.endIndex && line[j] != "\"" {
                    if line[j] == "\\", line.index(after: j) < line.endIndex {
                        j = line.index(after: j)
                        value.append(line[j] == "n" ? "\n" : line[j])
                    } else {
                        value.append(line[j])
                    }
                    j = line.index(after: j)
                }
                guard j < line.endIndex else { return nil }
                labels[key] = value
                i = line.index(after: j)
                if i < line.endIndex && line[i] == "," { i = line.index(after: i) }
            }
            guard i < line.endIndex else { return nil }
            rest = line[line.index(after: i)...]
        } else {
            guard let space = line.firstIndex(of: " ") else { return nil }
            name = line[..<space]
            rest = line[space...]
        }
        guard let valueText = rest.split(separator: " ").first, let value = Double(valueText) else { return nil }
        return MetricSample(name: String(name), labels: labels, value: value)
    }
}

extension String {
    fileprivate var trimmingSpaces: String { String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
}
