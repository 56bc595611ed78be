/// A shell-style pattern for `~`, compiled once at parse time because the
/// same rule is matched against every file in the index.
///
/// `*` is any run of characters except "/", `**` any run including "/", `?`
/// one character except "/", `[abc]`, `[a-z]`, `[!a-z]` (or `[^a-z]`) one
/// character from a set (never "/"), and `\` makes the next character
/// literal. `**/` also matches zero directories, as in gitignore and zsh, so
/// `/projects/**/*.mkv` includes `/projects/a.mkv`.
///
/// Matching simulates the pattern as a set of states in one pass over the
/// text, so it costs O(text × pattern) with no backtracking blow-up however
/// many stars a rule has.
public struct Glob: Sendable, Equatable, CustomStringConvertible {
    enum Piece: Sendable {
        case literal(Unicode.Scalar)
        case one
        case star
        case globstar
        /// `**/`: nothing, or anything that ends with "/".
        case directories
        case set(ranges: [ClosedRange<Unicode.Scalar>], negated: Bool)
    }

    public let pattern: String
    let pieces: [Piece]
    /// For patterns without wildcards, which are plain comparisons.
    private let literal: String?
    /// Epsilon closures as bit masks, when the pattern has fewer than 64
    /// pieces (nearly always): matching then allocates nothing.
    private let closures: [UInt64]?

    /// Throws for an unclosed `[` or a trailing `\`; the column is the
    /// 1-based position within the pattern.
    public init(_ pattern: String) throws(ObjectiveError) {
        self.pattern = pattern
        let pieces = try Self.compile(Array(pattern.unicodeScalars), pattern: pattern)
        self.pieces = pieces
        var literal: String.UnicodeScalarView? = String.UnicodeScalarView()
        for piece in pieces {
            guard case .literal(let scalar) = piece else { literal = nil; break }
            literal?.append(scalar)
        }
        self.literal = literal.map(String.init)
        self.closures = pieces.count < 64 ? Self.closureMasks(pieces) : nil
    }

    public static func == (lhs: Glob, rhs: Glob) -> Bool { lhs.pattern == rhs.pattern }

    public var description: String { pattern }

    public func matches(_ text: String) -> Bool {
        if let literal { return text == literal }
        if let closures { return matchesNarrow(text, closures: closures) }
        return matchesWide(text)
    }

    /// The state-set simulation with one bit per state. `inside` marks a
    /// `**/` that has consumed something and now needs a "/" to finish,
    /// which must not be skipped (or "/**/x" would match "/ax").
    private func matchesNarrow(_ text: String, closures: [UInt64]) -> Bool {
        var active = closures[0]
        var inside: UInt64 = 0
        for scalar in text.unicodeScalars {
            var nextActive: UInt64 = 0
            var nextInside: UInt64 = 0
            var states = (active | inside) & ~(UInt64(1) << pieces.count)
            while states != 0 {
                let index = states.trailingZeroBitCount
                states &= states - 1
                let isActive = active & (UInt64(1) << index) != 0
                switch pieces[index] {
                case .literal(let expected):
                    if isActive && scalar == expected { nextActive |= closures[index + 1] }
                case .one:
                    if isActive && scalar != "/" { nextActive |= closures[index + 1] }
                case .set(let ranges, let negated):
                    if isActive && scalar != "/" && ranges.contains(where: { $0.contains(scalar) }) != negated {
                        nextActive |= closures[index + 1]
                    }
                case .star:
                    if scalar != "/" { nextActive |= closures[index] }
                case .globstar:
                    nextActive |= closures[index]
                case .directories:
                    nextInside |= UInt64(1) << index
                    if scalar == "/" { nextActive |= closures[index + 1] }
                }
            }
            guard nextActive | nextInside != 0 else { return false }
            active = nextActive
            inside = nextInside
        }
        return active & (UInt64(1) << pieces.count) != 0
    }

    private static func closureMasks(_ pieces: [Piece]) -> [UInt64] {
        var masks = [UInt64](repeating: 0, count: pieces.count + 1)
        masks[pieces.count] = UInt64(1) << pieces.count
        for index in stride(from: pieces.count - 1, through: 0, by: -1) {
            masks[index] = UInt64(1) << index
            switch pieces[index] {
            case .star, .globstar, .directories: masks[index] |= masks[index + 1]
            default: break
            }
        }
        return masks
    }

    /// The same simulation with arrays, for patterns of 64 pieces or more.
    func matchesWide(_ text: String) -> Bool {
        let count = pieces.count
        var active = [Bool](repeating: false, count: count + 1)
        var inside = [Bool](repeating: false, count: count + 1)
        var nextActive = active
        var nextInside = inside
        activate(0, in: &active)
        for scalar in text.unicodeScalars {
            for index in 0...count {
                nextActive[index] = false
                nextInside[index] = false
            }
            var any = false
            for index in 0..<count where active[index] || inside[index] {
                switch pieces[index] {
                case .literal(let expected):
                    if active[index] && scalar == expected { activate(index + 1, in: &nextActive); any = true }
                case .one:
                    if active[index] && scalar != "/" { activate(index + 1, in: &nextActive); any = true }
                case .set(let ranges, let negated):
                    if active[index] && scalar != "/" && ranges.contains(where: { $0.contains(scalar) }) != negated {
                        activate(index + 1, in: &nextActive)
                        any = true
                    }
                case .star:
                    if scalar != "/" { activate(index, in: &nextActive); any = true }
                case .globstar:
                    activate(index, in: &nextActive)
                    any = true
                case .directories:
                    nextInside[index] = true
                    if scalar == "/" { activate(index + 1, in: &nextActive) }
                    any = true
                }
            }
            guard any else { return false }
            swap(&active, &nextActive)
            swap(&inside, &nextInside)
        }
        return active[count]
    }

    /// Marks a state and everything reachable from it without consuming a
    /// character: stars and `**/` may match nothing.
    private func activate(_ start: Int, in states: inout [Bool]) {
        var index = start
        while index <= pieces.count, !states[index] {
            states[index] = true
            guard index < pieces.count else { return }
            switch pieces[index] {
            case .star, .globstar, .directories: index += 1
            default: return
            }
        }
    }
}
