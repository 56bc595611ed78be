/// Entry points for the two textual forms: a `where` expression (pool
/// `[[objective]]` rules) and `place TIER [where EXPR]` (directory xattrs).
///
///     expression := or
///     or         := and ("or" and)*
///     and        := unary ("and" unary)*
///     unary      := "not" unary | "(" expression ")" | condition
///     condition  := "true" | "false" | "pinned" | "has" tag
///                 | field ("==" | "!=" | "<" | "<=" | ">" | ">=" | "~") value
///     field      := path | name | size | type | uid | gid | atime | mtime
///                 | ctime | heat | tier | silo | tag
///     tag        := "tag." NAME          (NAME: letters, digits, _ - .)
///
/// Values: strings in double quotes (escapes \" \\ \n \t) for path, name,
/// tags, tier and silo (tier and silo also take a bare name); `~` is a glob
/// (see `Glob`). Sizes take K/M/G/T/P with K = Ki = KiB = 1024 and KB = 1000.
/// Ages take s/m/h/d/w/y and compare how long ago: `mtime > 30d` is "older
/// than 30 days", `atime < 12h` "read within 12 hours". `type` takes file,
/// dir, symlink, fifo, socket or other; uid/gid whole numbers; heat decimals.
///
/// Any input either parses or throws `ObjectiveError`; input is capped at
/// `maximumLength` characters and nesting at `maximumDepth`.
public enum ObjectiveParser {
    /// Counted in `(` and `not`; far beyond any hand-written rule. The
    /// deepest tree this allows is about 512 levels (each group can add an
    /// `or` and an `and`), which every recursive walk handles in under
    /// 128 KiB of stack in release builds (about 384 KiB in debug).
    public static let maximumDepth = 256

    /// In Unicode scalars. Objectives live in config files and xattrs;
    /// anything longer is a mistake or an attack, and the cap bounds parse
    /// time and memory.
    public static let maximumLength = 65_536

    /// Parses a `where` expression; see `Expression` for the language.
    public static func parse(_ text: String) throws(ObjectiveError) -> Expression {
        var stream = try TokenStream(text)
        guard !stream.atEnd else { throw ObjectiveError(column: 1, message: "empty expression") }
        return try ExpressionParser.parse(&stream, after: nil)
    }

    /// `place fast where tag.project == "apollo"`, or `place fast` alone,
    /// which places everything below the directory (the condition is `true`).
    /// The tier may be a bare name or a string.
    public static func parseDirectoryObjective(_ text: String) throws(ObjectiveError) -> (tier: String, expression: Expression) {
        var stream = try TokenStream(text)
        guard !stream.atEnd else { throw ObjectiveError(column: 1, message: "empty directory objective") }
        guard stream.current.isWord("place") else {
            throw ObjectiveError(column: stream.current.column,
                                 message: "expected 'place' at the start of a directory objective, found \(stream.current.described)")
        }
        try stream.advance()
        let tierToken = stream.current
        let tier: String
        switch tierToken.kind {
        case .word(let word) where word != "where": tier = word
        case .string(let text) where !text.isEmpty: tier = text
        default:
            throw ObjectiveError(column: tierToken.column,
                                 message: "expected a tier name after 'place', found \(tierToken.described)")
        }
        try stream.advance()
        if stream.atEnd { return (tier, .constant(true)) }
        guard stream.current.isWord("where") else {
            throw ObjectiveError(column: stream.current.column,
                                 message: "expected 'where' or the end of the objective after the tier name, found \(stream.current.described)")
        }
        try stream.advance()
        return (tier, try ExpressionParser.parse(&stream, after: "where"))
    }
}
