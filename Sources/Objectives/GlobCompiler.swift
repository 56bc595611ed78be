/// Pattern text to pieces. Malformed patterns are rejected at parse time
/// rather than silently matching literally, so a typo in a rule is reported
/// instead of quietly placing nothing.
extension Glob {
    static func compile(_ scalars: [Unicode.Scalar], pattern: String) throws(ObjectiveError) -> [Piece] {
        var pieces: [Piece] = []
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            switch scalar {
            case "*":
                if index + 1 < scalars.count, scalars[index + 1] == "*" {
                    if index + 2 < scalars.count, scalars[index + 2] == "/" {
                        pieces.append(.directories)
                        index += 3
                    } else {
                        pieces.append(.globstar)
                        index += 2
                    }
                } else {
                    pieces.append(.star)
                    index += 1
                }
            case "?":
                pieces.append(.one)
                index += 1
            case "\\":
                guard index + 1 < scalars.count else {
                    throw ObjectiveError(column: index + 1,
                                         message: "pattern \(Formatting.quoted(pattern)) ends with a lone backslash")
                }
                pieces.append(.literal(scalars[index + 1]))
                index += 2
            case "[":
                let (piece, next) = try compileSet(scalars, from: index, pattern: pattern)
                pieces.append(piece)
                index = next
            default:
                pieces.append(.literal(scalar))
                index += 1
            }
        }
        return pieces
    }

    /// `[` at `start`; returns the set and the index after its `]`. A `]`
    /// right after the opening (or after `!`/`^`) is a member, as in fnmatch.
    private static func compileSet(_ scalars: [Unicode.Scalar], from start: Int,
                                   pattern: String) throws(ObjectiveError) -> (Piece, Int) {
        var index = start + 1
        var negated = false
        if index < scalars.count, scalars[index] == "!" || scalars[index] == "^" {
            negated = true
            index += 1
        }
        var ranges: [ClosedRange<Unicode.Scalar>] = []
        var first = true
        while index < scalars.count {
            var low = scalars[index]
            if low == "]" && !first { return (.set(ranges: ranges, negated: negated), index + 1) }
            first = false
            if low == "\\", index + 1 < scalars.count {
                index += 1
                low = scalars[index]
            }
            index += 1
            var high = low
            if index + 1 < scalars.count, scalars[index] == "-", scalars[index + 1] != "]" {
                high = scalars[index + 1]
                index += 2
                if high == "\\", index < scalars.count {
                    high = scalars[index]
                    index += 1
                }
            }
            // A reversed range like [z-a] matches nothing rather than failing,
            // as in most shells.
            if low <= high { ranges.append(low...high) }
        }
        throw ObjectiveError(column: start + 1, message: "unclosed '[' in pattern \(Formatting.quoted(pattern))")
    }
}
