import Index
#if ADMINCLI_OBJECTIVES
import Objectives
#endif

/// What the index can do for a `--where` expression before it is evaluated: the name test
/// every match passes (searched through the name index instead of walking every entry), and
/// the directory every match lies strictly below (the search starts there). Read from the
/// tests on `name` and `path` that the whole expression requires (the top level of an `and`).
/// Both only narrow the candidates: each one is still evaluated against the whole expression.
struct NamePlan: Equatable {
    var names: NameMatch?
    /// A pool-relative directory ("" for the root, no leading slash).
    var below: [UInt8]?
    /// Bounds on kind, size and mtime the expression requires, and its tests that have columns
    /// (`EngineCondition`), for a scan of every entry to leave to the engine.
    var rows = RowFilter()

    /// How much a name test narrows, to pick one when several are required.
    static func rank(_ match: NameMatch) -> Int {
        switch match {
        case .exact: 1_000_000
        case .prefix(let b): 20_000 + b.count
        case .suffix(let b): 10_000 + b.count
        case .contains(let b): b.count
        }
    }

    mutating func require(_ match: NameMatch) {
        if let names, Self.rank(names) >= Self.rank(match) { return }
        names = match
    }

    mutating func require(below directory: [UInt8]) {
        if let below, below.count >= directory.count { return }
        below = directory
    }

    /// Bytes a name or path must hold for a glob's literal run: exact for patterns with a
    /// wildcard, which compare scalar by scalar. Nil when the run holds U+FFFD, which a name that
    /// is not UTF-8 also shows (its bad bytes decode to it), so no byte search can stand for it.
    static func scalarBytes(_ text: String) -> [UInt8]? {
        text.unicodeScalars.contains("\u{FFFD}") ? nil : Array(text.utf8)
    }

    /// Bytes for a whole-value equality (`==`, a glob without wildcards), which Swift compares
    /// by canonical equivalence: "e\u{301}" equals "é". Only ASCII text, and none of the three
    /// ASCII characters that a non-ASCII one decomposes to (K from the Kelvin sign, ; from the
    /// Greek question mark, ` from the Greek varia), has no other spelling in bytes.
    static func equalityBytes(_ text: String) -> [UInt8]? {
        text.utf8.allSatisfy { $0 < 0x80 && $0 != UInt8(ascii: "K") && $0 != UInt8(ascii: ";") && $0 != UInt8(ascii: "`") }
            ? Array(text.utf8) : nil
    }

    /// The directory part of a path prefix "/a/b/c" -> "a/b" (what every match is below);
    /// nil when it is the root or holds a "." or ".." component (no indexed path does).
    static func directory(ofPrefix prefix: [UInt8]) -> [UInt8]? {
        guard prefix.first == UInt8(ascii: "/"), let slash = prefix.lastIndex(of: UInt8(ascii: "/")), slash > 0 else { return nil }
        let directory = Array(prefix[1..<slash])
        let parts = directory.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard !parts.contains(where: { $0.isEmpty || $0.elementsEqual([46]) || $0.elementsEqual([46, 46]) }) else { return nil }
        return directory
    }
}

#if ADMINCLI_OBJECTIVES
extension NamePlan {
    init(_ expression: ObjectiveExpression, now: Int64, silos: [SiloID: SiloRow]) {
        // The whole expression as far as it has columns, for a scan of every entry: the engine
        // skips the rows it rules out before they are decoded.
        rows.condition = EngineCondition.bounds(expression, now: now, silos: silos).over
        for test in Self.conjuncts(expression) {
            requireRow(test, now: now)
            guard case .text(let field, let textTest) = test else { continue }
            switch (field, textTest) {
            case (.name, .equal(let text)):
                if let bytes = Self.equalityBytes(text) { require(.exact(bytes)) }
            case (.name, .matches(let glob)):
                requireName(glob.literalRuns)
            case (.path, .equal(let text)):
                guard let bytes = Self.equalityBytes(text) else { continue }
                requirePath(bytes, whole: true)
            case (.path, .matches(let glob)):
                let runs = glob.literalRuns
                if runs.count == 1 {
                    if let bytes = Self.equalityBytes(runs[0]) { requirePath(bytes, whole: true) }
                    continue
                }
                if let prefix = Self.scalarBytes(runs[0]) { requirePath(prefix, whole: false) }
                // A last run without "/" lies within the last component: the name's suffix.
                if let last = runs.last, !last.isEmpty, !last.contains("/"), let bytes = Self.scalarBytes(last) {
                    require(.suffix(bytes))
                }
            default: continue
            }
        }
    }

    /// `size`, `mtime` and `type ==` tests as row bounds. `mtime > D` is an age: now minus the
    /// mtime in whole seconds (rounded down) compared with D, i.e. a bound on the nanoseconds.
    private mutating func requireRow(_ test: ObjectiveExpression, now: Int64) {
        switch test {
        case .size(let comparison, let bytes):
            switch comparison {
            case .greater: rows.narrow(sizeAbove: bytes)
            case .greaterOrEqual: if bytes > .min { rows.narrow(sizeAbove: bytes - 1) }
            case .less: rows.narrow(sizeBelow: bytes)
            case .lessOrEqual: if bytes < .max { rows.narrow(sizeBelow: bytes + 1) }
            case .equal: if bytes > .min && bytes < .max { rows.narrow(sizeAbove: bytes - 1, sizeBelow: bytes + 1) }
            case .notEqual: break
            }
        case .age(.mtime, let comparison, let seconds):
            // age > s  <=>  floor(mtime / 1e9) < now - s  <=>  mtime < (now - s) * 1e9
            func ns(_ s: Int64) -> Int64? {
                let (t, o1) = now.subtractingReportingOverflow(s)
                let (n, o2) = t.multipliedReportingOverflow(by: 1_000_000_000)
                return o1 || o2 ? nil : n
            }
            switch comparison {
            case .greater: rows.narrow(mtimeBeforeNs: ns(seconds))
            case .greaterOrEqual: if seconds > .min { rows.narrow(mtimeBeforeNs: ns(seconds - 1)) }
            case .less: if seconds > .min { rows.narrow(mtimeAfterNs: ns(seconds - 1).flatMap { $0 > .min ? $0 - 1 : nil }) }
            case .lessOrEqual: rows.narrow(mtimeAfterNs: ns(seconds).flatMap { $0 > .min ? $0 - 1 : nil })
            case .equal, .notEqual: break
            }
        case .kind(.equal, let kind):
            switch kind {
            case .file: rows.kind = .regular
            case .directory: rows.kind = .directory
            case .symlink: rows.kind = .symlink
            case .fifo: rows.kind = .fifo
            case .socket: rows.kind = .socket
            case .other: break
            }
        default: break
        }
    }

    /// Tests the whole expression requires: the operands of a top-level `and`, flattened.
    static func conjuncts(_ e: ObjectiveExpression) -> [ObjectiveExpression] {
        if case .and(let operands) = e { return operands.flatMap(conjuncts) }
        return [e]
    }

    private mutating func requireName(_ runs: [String]) {
        if runs.count == 1 {
            if let bytes = Self.equalityBytes(runs[0]) { require(.exact(bytes)) }
            return
        }
        if !runs[0].isEmpty, let bytes = Self.scalarBytes(runs[0]) { require(.prefix(bytes)) }
        if let last = runs.last, !last.isEmpty, let bytes = Self.scalarBytes(last) { require(.suffix(bytes)) }
        if let longest = runs.dropFirst().dropLast().max(by: { $0.utf8.count < $1.utf8.count }), !longest.isEmpty,
           let bytes = Self.scalarBytes(longest) {
            require(.contains(bytes))
        }
    }

    /// `prefix` starts every matching path ("/a/b/c..."); `whole` says it is the entire path.
    private mutating func requirePath(_ prefix: [UInt8], whole: Bool) {
        if let directory = Self.directory(ofPrefix: prefix) { require(below: directory) }
        guard whole, let slash = prefix.lastIndex(of: UInt8(ascii: "/")) else { return }
        let name = Array(prefix[(slash + 1)...])
        if !name.isEmpty { require(.exact(name)) }
    }
}
#endif
