/// A TOML document that cannot be read, located at the first offending spot.
///
/// Lines are 1-based. Columns are 1-based and count Unicode scalars, so a
/// column stays right when a line holds non-ASCII names.
public struct TOMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String

    public init(line: Int, column: Int, message: String) {
        self.line = line
        self.column = column
        self.message = message
    }

    public init(_ message: String, at position: TOMLPosition) {
        self.init(line: position.line, column: position.column, message: message)
    }

    public var description: String { "\(line):\(column): \(message)" }
}
