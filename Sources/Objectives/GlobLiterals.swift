extension Glob {
    /// The pattern's literal text between its wildcards, in order: `"*.mkv"` is `["", ".mkv"]`,
    /// `"f249"` is `["f249"]`, `"a*b?c"` is `["a", "b", "c"]`. One run means no wildcard. Every
    /// value the pattern matches starts with the first run, ends with the last and contains
    /// each, which is what an index can search for before the pattern itself is tried.
    public var literalRuns: [String] {
        var runs = [String.UnicodeScalarView()]
        for piece in pieces {
            if case .literal(let scalar) = piece { runs[runs.count - 1].append(scalar) } else { runs.append(String.UnicodeScalarView()) }
        }
        return runs.map(String.init)
    }
}
