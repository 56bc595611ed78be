/// The parser's one-token window onto the lexer. Lexing errors are thrown
/// the moment such a token becomes current, so the parser itself only ever
/// sees well-formed tokens.
struct TokenStream {
    private var lexer: Lexer
    private(set) var current: Token

    init(_ text: String) throws(ObjectiveError) {
        lexer = Lexer(text)
        current = lexer.next()
        try check()
    }

    mutating func advance() throws(ObjectiveError) {
        current = lexer.next()
        try check()
    }

    var atEnd: Bool { current.kind == .end }

    private func check() throws(ObjectiveError) {
        if case .invalid(let message, let column) = current.kind {
            throw ObjectiveError(column: column, message: message)
        }
    }
}
