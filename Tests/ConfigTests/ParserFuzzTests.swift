import Testing
@testable import Config
import TestSupport

/// Random and mutated input must only ever parse or fail with a located
/// error: no trap, no hang, no position outside the input.
@Suite struct ParserFuzzTests {
    /// Fragments that steer random input into the parser's interesting paths.
    private static let tokens: [[UInt8]] = [
        "[", "]", "[[", "]]", "{", "}", "=", ",", ".", "\"", "'", "\"\"\"", "'''", "\\", "\\u", "\\U0001F600",
        "#", "\n", "\r\n", "\r", " ", "\t", "0x", "0o", "0b", "_", "-", "+", "1e", "inf", "nan", "true",
        "1979-05-27", "07:32", "[silo]", "[[silo]]", "[pool]", "[tiers.fast]", "name = ", "path = \"/x\"",
        "9223372036854775808", "\"20GiB\"", "é", "\u{0}", "\u{7F}",
    ].map { Array($0.utf8) } + [[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xEF, 0xBB, 0xBF]]

    private struct Outcome {
        var parsed = 0
        var failed = 0
    }

    @Test func randomBytesNeverCrashTheParser() {
        var generator = SplitMix64(seed: 0x5EED_0001)
        var outcome = Outcome()
        for iteration in 0..<2_000 {
            var bytes: [UInt8] = []
            let pieces = Int.random(in: 0...40, using: &generator)
            for _ in 0..<pieces {
                if Bool.random(using: &generator) {
                    bytes += Self.tokens.randomElement(using: &generator)!
                } else {
                    bytes.append(UInt8.random(in: 0...255, using: &generator))
                }
            }
            check(bytes, iteration: iteration, outcome: &outcome)
            checkSpec(String(decoding: bytes, as: UTF8.self), iteration: iteration)
        }
        #expect(outcome.parsed + outcome.failed == 2_000)
        #expect(outcome.failed > 0)
    }

    @Test func mutatedPoolFilesNeverCrashTheLoader() {
        var generator = SplitMix64(seed: 0x5EED_0002)
        var outcome = Outcome()
        let original = Array(fullPoolFile.utf8)
        for iteration in 0..<2_000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                mutate(&bytes, using: &generator)
            }
            check(bytes, iteration: iteration, outcome: &outcome)
        }
        // Both outcomes must occur, or the mutations are not exercising anything.
        #expect(outcome.parsed > 0)
        #expect(outcome.failed > 0)
    }

    private func mutate(_ bytes: inout [UInt8], using generator: inout SplitMix64) {
        let position = Int.random(in: 0...bytes.count, using: &generator)
        switch Int.random(in: 0..<5, using: &generator) {
        case 0 where position < bytes.count:
            bytes[position] = UInt8.random(in: 0...255, using: &generator)
        case 1:
            bytes.insert(contentsOf: Self.tokens.randomElement(using: &generator)!, at: position)
        case 2 where position < bytes.count:
            let end = min(bytes.count, position + Int.random(in: 1...20, using: &generator))
            bytes.removeSubrange(position..<end)
        case 3 where position < bytes.count:
            let end = min(bytes.count, position + Int.random(in: 1...60, using: &generator))
            let slice = Array(bytes[position..<end])
            bytes.insert(contentsOf: slice, at: Int.random(in: 0...bytes.count, using: &generator))
        default:
            // Swap a digit for one that pushes numbers and sizes over their limits.
            if let digit = bytes.indices.filter({ bytes[$0] >= 0x30 && bytes[$0] <= 0x39 }).randomElement(using: &generator) {
                bytes.replaceSubrange(digit...digit, with: Array("99999999999999999999".utf8))
            }
        }
    }

    private func checkSpec(_ spec: String, iteration: Int) {
        do {
            let parsed = try ZeroConfigSpec(spec)
            #expect(parsed.items.allSatisfy { ConfigName.isValid($0.siloName) }, "iteration \(iteration)")
        } catch {
            #expect(error.file == "<spec>")
            #expect((error.column ?? 0) >= 1 && (error.column ?? 0) <= spec.utf8.count + 1, "iteration \(iteration): \(error)")
        }
    }

    private func check(_ bytes: [UInt8], iteration: Int, outcome: inout Outcome) {
        let lines = bytes.count { $0 == 0x0A } + 1
        do {
            _ = try TOMLParser.parse(bytes)
        } catch {
            #expect(error.line >= 1 && error.line <= lines, "iteration \(iteration): \(error)")
            #expect(error.column >= 1 && error.column <= bytes.count + 1, "iteration \(iteration): \(error)")
        }
        do {
            _ = try PoolConfigLoader.parse(tomlBytes: bytes, file: "fuzz.toml", environment: ["HOME": "/h"], isRoot: false)
            outcome.parsed += 1
        } catch {
            outcome.failed += 1
            #expect(error.file == "fuzz.toml")
            if let line = error.line {
                #expect(line >= 1 && line <= lines, "iteration \(iteration): \(error)")
            }
            #expect(!error.message.isEmpty)
        }
    }
}
