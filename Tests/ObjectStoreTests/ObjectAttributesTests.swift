import ObjectStore
import Testing

/// Attributes as object metadata: what an upload writes, a scan reads back unchanged, and
/// what other clients write is read where it can be.
struct ObjectAttributesTests {
    @Test func everyAttributeRoundTrips() {
        let tags: [(name: [UInt8], value: [UInt8])] = [
            (Array("user.project".utf8), Array("apollo".utf8)),
            (Array("user.odd=name&".utf8), [0, 255, 37, 43, 61, 38, 32]),   // NUL, 0xFF, % + = & space
            (Array("user.empty".utf8), []),
        ]
        let a = ObjectAttributes(mode: 0o4750, uid: 1234, gid: 2345, mtimeNs: 1_600_000_000_987_654_321,
                                 atimeNs: 1_500_000_000_000_000_001, ino: 77, tags: tags)
        let metadata = a.metadata
        for value in metadata.values { #expect(value.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7f }, "\(value) is not a plain header value") }
        #expect(ObjectAttributes(metadata: metadata) == a)
    }

    @Test func otherClientsMetadata() {
        #expect(ObjectAttributes(metadata: [:]) == ObjectAttributes())
        #expect(ObjectAttributes(metadata: ["mtime": "1700000000.5"]).mtimeNs == 1_700_000_000_500_000_000)
        #expect(ObjectAttributes(metadata: ["mtime": "1700000000"]).mtimeNs == 1_700_000_000_000_000_000)
        #expect(ObjectAttributes(metadata: ["mtime": "1700000000.123456789123"]).mtimeNs == 1_700_000_000_123_456_789)
        let junk = ObjectAttributes(metadata: ["mode": "rwx", "uid": "-1", "mtime": "soon", "tags": "=x&&a"])
        #expect(junk.mode == nil && junk.uid == nil && junk.mtimeNs == nil)
        #expect(junk.tags.isEmpty, "a pair without a name or an equals sign is no tag")
    }
}
