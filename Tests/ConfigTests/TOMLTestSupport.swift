import Testing
@testable import Config

/// Parses a document that the test expects to be valid.
func document(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> TOMLTable {
    do {
        return try TOMLParser.parse(text)
    } catch {
        Issue.record("unexpected TOML error \(error)", sourceLocation: sourceLocation)
        return TOMLTable()
    }
}

/// The error a document that the test expects to be invalid produces.
func syntaxError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> TOMLError? {
    syntaxError(bytes: Array(text.utf8), sourceLocation: sourceLocation)
}

func syntaxError(bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> TOMLError? {
    do {
        let parsed = try TOMLParser.parse(bytes)
        Issue.record("expected a TOML error, parsed \(parsed.keys)", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// The value at a dotted path of plain names.
func value(_ table: TOMLTable, _ path: String...) -> TOMLValue? {
    var current = TOMLValue(.table(table), at: table.position)
    for key in path {
        guard let next = current.table?[key] else { return nil }
        current = next
    }
    return current
}
