import Testing
@testable import Objectives

@Suite struct ExplainTests {
    let facts = FileFacts(path: "/projects/apollo/a.mkv", size: 12 << 20, uid: 1000, gid: 100,
                          atime: testNow - 3 * day - 4 * 3_600, mtime: testNow + 7_200, ctime: testNow,
                          heat: 3.25, tags: ["project": "apollo"], tier: "fast", silo: "nvme0")

    private func explain(_ text: String) throws -> [String] {
        try parsed(text).explain(facts, now: testNow)
    }

    @Test func topLevelAndListsItsOperands() throws {
        #expect(try explain(#"tag.project == "apollo" and size > 1G"#) == [
            #"tag.project == "apollo": true (tag.project is "apollo")"#,
            "size > 1G: false (size is 12 MiB)",
        ])
    }

    @Test func nestedGroupsAndNotAreIndented() throws {
        #expect(try explain("pinned or not (size > 1G and has tag.keep)") == [
            "pinned: false (the file is not pinned)",
            "not (size > 1G and has tag.keep): true",
            "  size > 1G and has tag.keep: false",
            "    size > 1G: false (size is 12 MiB)",
            "    has tag.keep: false (tag.keep is not set)",
        ])
    }

    @Test func everyFieldNamesItsValue() throws {
        let cases: [(String, String)] = [
            ("true", "true: true"),
            (#"path ~ "/projects/**""#, #"path ~ "/projects/**": true (path is "/projects/apollo/a.mkv")"#),
            (#"name == "b.mkv""#, #"name == "b.mkv": false (name is "a.mkv")"#),
            ("type == dir", "type == dir: false (type is file)"),
            ("size >= 1.5K", "size >= 1536: true (size is 12 MiB)"),
            ("uid == 1000", "uid == 1000: true (uid is 1000)"),
            ("gid > 100", "gid > 100: false (gid is 100)"),
            ("atime > 3d", "atime > 3d: true (atime was 3d 4h ago)"),
            ("mtime < 1h", "mtime < 1h: true (mtime is 2h in the future)"),
            ("ctime < 1s", "ctime < 1s: true (ctime is now)"),
            ("heat > 10.5", "heat > 10.5: false (heat is 3.25)"),
            (#"tag.owner != "ops""#, #"tag.owner != "ops": true (tag.owner is not set)"#),
            ("has tag.project", #"has tag.project: true (tag.project is "apollo")"#),
            ("tier == fast", #"tier == "fast": true (tier is "fast")"#),
            (#"silo ~ "hdd*""#, #"silo ~ "hdd*": false (silo is "nvme0")"#),
        ]
        for (text, line) in cases {
            #expect(try explain(text) == [line])
        }
    }

    @Test func humanSizes() {
        #expect(Formatting.humanSize(0) == "0 bytes")
        #expect(Formatting.humanSize(1) == "1 byte")
        #expect(Formatting.humanSize(1023) == "1023 bytes")
        #expect(Formatting.humanSize(1024) == "1 KiB")
        #expect(Formatting.humanSize(3 << 29) == "1.5 GiB")
        #expect(Formatting.humanSize(.max) == "8 EiB")
    }

    @Test func humanAges() {
        #expect(Formatting.humanAge(45) == "45s")
        #expect(Formatting.humanAge(3_660) == "1h 1m")
        #expect(Formatting.humanAge(400 * day) == "1y 35d")
        #expect(Formatting.humanAge(day + 30) == "1d")
        #expect(Formatting.humanAge(.min).hasSuffix("d"))
    }
}
