import Testing
@testable import Objectives

@Suite struct EvaluationTests {
    let movie = FileFacts(path: "/projects/apollo/renders/final.mkv", size: 12 << 20, uid: 1000, gid: 100,
                          atime: testNow - 3_600, mtime: testNow - 40 * day, ctime: testNow - 40 * day,
                          heat: 3.25, tags: ["project": "apollo", "owner": "ops-team", "keep": ""],
                          tier: "fast", silo: "nvme0")

    @Test func nameDefaultsToTheLastPathComponent() {
        #expect(movie.name == "final.mkv")
        #expect(FileFacts(path: "/").name == "")
        #expect(FileFacts(path: "/a/b/", name: "override").name == "override")
    }

    @Test func pathAndNameGlobs() throws {
        #expect(try matches(#"path ~ "/projects/apollo/**""#, movie))
        #expect(try matches(#"path ~ "/projects/**/*.mkv""#, movie))
        #expect(try !matches(#"path ~ "/projects/*""#, movie), "* must not cross /")
        #expect(try !matches(#"path ~ "/projects/*/*.mkv""#, movie))
        #expect(try matches(#"path ~ "/projects/*/*/*.mkv""#, movie))
        #expect(try matches(#"name ~ "*.mkv""#, movie))
        #expect(try !matches(#"name ~ "*.mp4""#, movie))
        #expect(try matches(#"path == "/projects/apollo/renders/final.mkv""#, movie))
        #expect(try matches(#"name == "final.mkv""#, movie))
        #expect(try matches(#"name != "other.mkv""#, movie))
        #expect(try !matches(#"path != "/projects/apollo/renders/final.mkv""#, movie))
    }

    @Test func sizes() throws {
        #expect(try matches("size > 10M", movie))
        #expect(try matches("size == 12M", movie))
        #expect(try matches("size == 12582912", movie))
        #expect(try !matches("size > 12MiB", movie))
        #expect(try matches("size >= 12MiB", movie))
        #expect(try matches("size > 12MB", movie), "12 MB is less than 12 MiB")
        #expect(try matches("size < 1G", movie))
        #expect(try matches("size <= 500MiB", movie))
        #expect(try matches("size != 0", movie))
    }

    @Test func agesCompareHowLongAgo() throws {
        // mtime 40 days ago, atime an hour ago.
        #expect(try matches("mtime > 30d", movie), "older than 30 days")
        #expect(try !matches("mtime < 30d", movie))
        #expect(try matches("atime < 12h", movie), "read within 12 hours")
        #expect(try !matches("atime > 12h", movie))
        #expect(try matches("atime >= 1h", movie))
        #expect(try !matches("atime > 1h", movie))
        #expect(try matches("ctime > 5w", movie))
        #expect(try !matches("ctime > 1y", movie))
        #expect(try matches("mtime < 1y", movie))
        #expect(try matches("atime <= 60m", movie))
        #expect(try matches("atime == 3600s", movie))
    }

    @Test func futureTimestampsCountAsRecent() throws {
        let future = FileFacts(path: "/f", mtime: testNow + day)
        #expect(try matches("mtime < 1h", future))
        #expect(try !matches("mtime > 0s", future))
    }

    @Test func extremeTimestampsDoNotTrap() throws {
        let ancient = FileFacts(path: "/a", atime: .min, mtime: .max)
        #expect(try matches("atime > 100y", ancient, now: .max))
        #expect(try matches("mtime < 1s", ancient, now: .min))
    }

    @Test func typeOwnerAndHeat() throws {
        #expect(try matches("type == file", movie))
        #expect(try !matches("type == dir", movie))
        #expect(try matches("type != dir", movie))
        #expect(try matches("type == dir", FileFacts(path: "/d", kind: .directory)))
        #expect(try matches("type == symlink", FileFacts(path: "/l", kind: .symlink)))
        #expect(try matches(#"type == "fifo""#, FileFacts(path: "/p", kind: .fifo)))
        #expect(try matches("type == socket", FileFacts(path: "/s", kind: .socket)))
        #expect(try matches("type == other", FileFacts(path: "/b", kind: .other)))
        #expect(try matches("uid == 1000", movie))
        #expect(try matches("uid >= 1000 and uid < 2000", movie))
        #expect(try matches("gid == 100", movie))
        #expect(try !matches("gid != 100", movie))
        #expect(try matches("heat > 3", movie))
        #expect(try matches("heat == 3.25", movie))
        #expect(try !matches("heat > 10.5", movie))
    }

    @Test func tags() throws {
        #expect(try matches(#"tag.project == "apollo""#, movie))
        #expect(try !matches(#"tag.project != "apollo""#, movie))
        #expect(try matches(#"tag.project != "x""#, movie))
        #expect(try matches(#"tag.owner ~ "ops*""#, movie))
        #expect(try !matches(#"tag.project ~ "ops*""#, movie))
        #expect(try matches("has tag.keep", movie), "an empty value still counts as set")
        #expect(try !matches("has tag.archive", movie))
    }

    @Test func missingTagsEqualNothingAndDifferFromEverything() throws {
        #expect(try !matches(#"tag.missing == """#, movie))
        #expect(try matches(#"tag.missing != "x""#, movie))
        #expect(try !matches(#"tag.missing ~ "*""#, movie))
    }

    @Test func pinTierSilo() throws {
        #expect(try !matches("pinned", movie))
        #expect(try matches("pinned", FileFacts(path: "/p", pinned: true)))
        #expect(try matches("not pinned", movie))
        #expect(try matches(#"tier == "fast""#, movie))
        #expect(try matches("tier != slow", movie))
        #expect(try matches(#"silo ~ "nvme*""#, movie))
        #expect(try !matches(#"silo == "hdd0""#, movie))
    }

    @Test func logic() throws {
        #expect(try matches("true", movie))
        #expect(try !matches("false", movie))
        #expect(try matches(#"size > 1G or tag.project == "apollo""#, movie))
        #expect(try !matches(#"size > 1G and tag.project == "apollo""#, movie))
        #expect(try matches("not (size > 1G or pinned)", movie))
        #expect(try matches("false or false or true", movie))
        #expect(try !matches("true and true and false", movie))
        // Precedence: false and false or true = (false and false) or true.
        #expect(try matches("false and false or true", movie))
        #expect(try !matches("false and (false or true)", movie))
    }
}
