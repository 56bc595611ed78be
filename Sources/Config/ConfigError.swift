/// A problem with a pool's configuration, located like a compiler diagnostic
/// so that editors and terminals can jump to it.
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The configuration file's path, or "<spec>" for a zero-config spec.
    public var file: String
    public var line: Int?
    public var column: Int?
    public var message: String

    public init(file: String, line: Int? = nil, column: Int? = nil, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    init(file: String, at position: TOMLPosition?, _ message: String) {
        self.init(file: file, line: position?.line, column: position?.column, message: message)
    }

    init(file: String, syntax error: TOMLError) {
        self.init(file: file, line: error.line, column: error.column, message: error.message)
    }

    /// "FILE:LINE:COLUMN: message", leaving out the parts that are unknown.
    public var description: String {
        var location = file
        if let line { location += ":\(line)" }
        if let column { location += ":\(column)" }
        return "\(location): \(message)"
    }
}
