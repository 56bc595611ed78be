/// A placement rule from `[[objective]]`. Only its shape is checked for now;
/// `where` is kept as written until a later change gives it a grammar.
public struct ObjectiveConfig: Sendable, Equatable {
    public var name: String
    public var `where`: String
    /// A tier name that exists in the pool.
    public var place: String
    public var priority: Int?
    /// The line of the `[[objective]]` header.
    public var line: Int?

    public init(name: String, where condition: String, place: String, priority: Int? = nil, line: Int? = nil) {
        self.name = name
        self.where = condition
        self.place = place
        self.priority = priority
        self.line = line
    }
}
