/// A problem in an objective expression, located so that the CLI can point
/// a caret at it.
public struct ObjectiveError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based position in the expression, counted in Unicode scalars (the
    /// same as characters for anything but combining sequences). One past the
    /// end for problems found at the end of the text.
    public var column: Int
    /// What was wrong and what was expected, without the column.
    public var message: String

    public init(column: Int, message: String) {
        self.column = column
        self.message = message
    }

    /// "column 12: expected a comparison operator after 'size', found 'apollo'"
    public var description: String { "column \(column): \(message)" }
}
