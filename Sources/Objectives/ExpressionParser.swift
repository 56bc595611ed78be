/// The boolean structure: `or` over `and` over `not`, with parentheses.
///
/// It is a loop over an explicit stack of open groups rather than recursive
/// descent, so no input, however deeply nested, can grow the call stack;
/// the depth limit exists only to keep the resulting tree shallow.
enum ExpressionParser {
    /// One parenthesised group (or the whole expression) being read.
    private struct Group {
        /// Column of the `(`, for "unclosed parenthesis" errors.
        var openColumn: Int
        /// Finished `and` chains, joined by `or`.
        var alternatives: [Expression] = []
        /// The `and` chain being read.
        var terms: [Expression] = []
        /// `not`s waiting for the operand being read.
        var negations = 0

        mutating func finishTerms() {
            alternatives.append(terms.count == 1 ? terms[0] : .and(terms))
            terms = []
        }

        mutating func finish() -> Expression {
            finishTerms()
            return alternatives.count == 1 ? alternatives[0] : .or(alternatives)
        }
    }

    /// Reads up to the end of the input. `after` names the keyword before
    /// the expression (e.g. "where") for messages.
    static func parse(_ stream: inout TokenStream, after keyword: String?) throws(ObjectiveError) -> Expression {
        var groups = [Group(openColumn: 0)]
        var depth = 0
        var previous = keyword
        while true {
            let token = stream.current
            if token.isWord("not") || token.isSymbol("(") {
                depth += 1
                guard depth <= ObjectiveParser.maximumDepth else {
                    throw ObjectiveError(column: token.column, message: "nesting deeper than \(ObjectiveParser.maximumDepth)")
                }
                if token.isSymbol("(") {
                    groups.append(Group(openColumn: token.column))
                } else {
                    groups[groups.count - 1].negations += 1
                }
                previous = token.text
                try stream.advance()
                continue
            }
            var operand = try ConditionParser.parse(&stream, after: previous)
            // Attach the operand, then close as many groups as there are `)`.
            while true {
                let negations = groups[groups.count - 1].negations
                for _ in 0..<negations { operand = .not(operand) }
                depth -= negations
                groups[groups.count - 1].negations = 0
                groups[groups.count - 1].terms.append(operand)

                let next = stream.current
                if next.isSymbol(")") {
                    guard groups.count > 1 else {
                        throw ObjectiveError(column: next.column, message: "')' has no matching '('")
                    }
                    var closed = groups.removeLast()
                    operand = closed.finish()
                    depth -= 1
                    try stream.advance()
                    continue
                }
                if next.isWord("and") || next.isWord("or") {
                    if next.isWord("or") { groups[groups.count - 1].finishTerms() }
                    previous = next.text
                    try stream.advance()
                    break
                }
                if next.kind == .end {
                    guard groups.count == 1 else {
                        throw ObjectiveError(column: next.column,
                                             message: "unclosed parenthesis opened at column \(groups[groups.count - 1].openColumn)")
                    }
                    return groups[0].finish()
                }
                let expected = groups.count > 1 ? "')'" : "the end of the expression"
                throw ObjectiveError(column: next.column,
                                     message: "expected 'and', 'or' or \(expected), found \(next.described)")
            }
        }
    }
}
