/// One lexical unit of an objective. Lexing problems travel as `.invalid`
/// tokens and are thrown only when the parser reaches them, so errors are
/// always reported in reading order.
struct Token: Sendable {
    enum Kind: Sendable, Equatable {
        /// Field names, keywords, `tag.NAME`, bare values like `dir`.
        case word(String)
        /// A double-quoted literal with escapes already resolved.
        case string(String)
        /// Digits with an optional fraction and a unit glued on: "1.5GiB".
        case number(whole: String, fraction: String, unit: String)
        /// `== != < <= > >= ~ ( )`
        case symbol(String)
        /// A lexing problem and where exactly it is (an escape inside a
        /// string is not at the string's start).
        case invalid(message: String, column: Int)
        case end
    }

    var kind: Kind
    /// 1-based, in Unicode scalars.
    var column: Int
    /// The token as written, for messages.
    var text: String

    func isWord(_ word: String) -> Bool { kind == .word(word) }
    func isSymbol(_ symbol: String) -> Bool { kind == .symbol(symbol) }

    /// How a message names this token: 'apollo', the string "big", the end
    /// of the expression. Long tokens are cut so a message stays one line.
    var described: String {
        switch kind {
        case .string(let value): "the string \(Self.shortened(Formatting.quoted(value)))"
        case .end: "the end of the expression"
        default: "'\(Self.shortened(text))'"
        }
    }

    private static func shortened(_ text: String) -> String {
        text.unicodeScalars.count <= 40 ? text : String(String.UnicodeScalarView(text.unicodeScalars.prefix(37))) + "..."
    }
}
