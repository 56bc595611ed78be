import Testing
@testable import Config

@Suite struct SizeParserTests {
    @Test(arguments: [
        ("0", 0), ("512", 512), ("512B", 512), ("4K", 4096), ("4k", 4096), ("4Ki", 4096), ("4KiB", 4096),
        ("4KB", 4000), ("10G", 10 << 30), ("20GB", 20_000_000_000), ("20 GiB", 20 << 30), (" 7M ", 7 << 20),
        ("1.5TiB", 3 << 39), ("1.5K", 1536), ("0.1K", 102), ("2P", 2 << 50), ("1PB", 1_000_000_000_000_000),
        ("16383P", 16383 << 50), ("18446744073709551615", UInt64.max), ("000012", 12),
    ] as [(String, UInt64)])
    func parsesSizes(_ text: String, _ bytes: UInt64) throws {
        #expect(try SizeParser.parse(text) == bytes)
    }

    @Test(arguments: [
        ("", SizeParser.Failure.empty), ("  ", .empty), ("-1", .negative), ("-2K", .negative),
        ("abc", .malformed), ("K", .malformed), ("1.5", .malformed), ("1.5B", .malformed), ("1.", .malformed),
        (".5K", .malformed), ("1.2.3K", .malformed), ("4X", .malformed), ("4KiBB", .malformed), ("4 K B", .malformed),
        ("+4K", .malformed), ("1e3", .malformed), ("١٢", .malformed), ("0.12345678901234567890K", .malformed),
        ("18446744073709551616", .tooLarge), ("16384P", .tooLarge), ("18446744073709551615.5K", .tooLarge),
    ] as [(String, SizeParser.Failure)])
    func rejectsBadSizes(_ text: String, _ failure: SizeParser.Failure) {
        #expect(throws: failure) { try SizeParser.parse(text) }
    }

    @Test func fractionsRoundDownToWholeBytes() throws {
        #expect(try SizeParser.parse("1.9999999999999999999K") == 2047)
        #expect(try SizeParser.parse("0.5P") == 1 << 49)
    }

    @Test func describeUsesTheLargestExactBinaryUnit() {
        #expect(SizeParser.describe(0) == "0")
        #expect(SizeParser.describe(1000) == "1000")
        #expect(SizeParser.describe(64 << 10) == "64KiB")
        #expect(SizeParser.describe(1 << 30) == "1GiB")
        #expect(SizeParser.describe(3 << 50) == "3PiB")
        #expect(SizeParser.describe(1536 << 20) == "1536MiB")
    }
}
