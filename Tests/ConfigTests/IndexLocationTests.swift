import Testing
@testable import Config

/// `[pool] index`: the pool's index in PostgreSQL. The value may hold a password, so no error
/// quotes it and `redacted` drops it.
@Suite struct IndexLocationTests {
    @Test func aPostgresURIIsKept() {
        let uri = "postgresql://estuary@db.example:5432/media?sslmode=require"
        #expect(loadPool("[pool]\nindex = \"\(uri)\"\n" + oneSilo())?.index == uri)
        #expect(loadPool(oneSilo())?.index == nil, "without the key the index is SQLite in the state directory")
    }

    @Test func anythingElseIsRefusedWithoutQuotingIt() {
        let error = configError("[pool]\nindex = \"mysql://root:hunter2@db/x\"\n" + oneSilo())
        #expect(error?.line == 2)
        #expect(error?.message.contains("must be a PostgreSQL URI") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("hunter2") == false)
        #expect(configError("[pool]\nindex = \"postgresql://\"\n" + oneSilo())?.message.contains("names no server") == true)
        #expect(configError("[pool]\nindex = 5\n" + oneSilo()) != nil)
    }

    @Test func theRedactedFormDropsThePassword() {
        #expect(IndexLocation.redacted("postgresql://estuary:s3cret@db:5432/pool?sslmode=require") == "postgresql://estuary@db:5432/pool?sslmode=require")
        #expect(IndexLocation.redacted("postgres://u@h/db?password=s3cret&sslmode=disable") == "postgres://u@h/db?sslmode=disable")
        #expect(IndexLocation.redacted("postgresql://u:p@w@h/db") == "postgresql://u@h/db", "the last @ ends the user info")
        #expect(IndexLocation.redacted("postgresql://h/db") == "postgresql://h/db")
    }
}
