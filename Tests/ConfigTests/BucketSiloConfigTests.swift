import Testing
@testable import Config

/// `kind = "s3"` silos: what a bucket table holds, and the exact diagnostics of half-written ones.
@Suite struct BucketSiloConfigTests {
    private let local = "[[silo]]\nname = \"fast\"\npath = \"/mnt/fast\"\ntier = \"fast\"\n\n"

    private func bucket(_ body: String) -> String {
        "[pool]\nname = \"p\"\n\n" + local + "[[silo]]\nname = \"archive\"\nkind = \"s3\"\ntier = \"cold\"\n" + body
    }

    @Test func bucketSiloIsRead() throws {
        let text = bucket("endpoint = \"https://s3.eu-west-1.amazonaws.com\"\nbucket = \"lab-archive\"\nprefix = \"/estuary\"\n" +
                          "region = \"eu-west-1\"\ncredentials_file = \"/etc/estuary/creds\"\n")
        let config = try #require(loadPool(text))
        let silo = try #require(config.silos.last)
        #expect(silo.bucket == BucketConfig(endpoint: "https://s3.eu-west-1.amazonaws.com", bucket: "lab-archive", prefix: "estuary/",
                                            region: "eu-west-1", credentialsFile: "/etc/estuary/creds"))
        #expect(silo.path == "s3://lab-archive/estuary/")
        #expect(silo.watch == false)
        #expect(config.silos.first?.bucket == nil)
    }

    @Test(arguments: [
        ("endpoint = \"http://x\"\nbucket = \"b1b\"\npath = \"/a\"\n", "\(mediaFile):15:8: an s3 silo has no 'path': its place is endpoint, bucket and prefix"),
        ("bucket = \"b1b\"\n", "\(mediaFile):9:1: [[silo]] is missing required key 'endpoint'"),
        ("endpoint = \"s3.amazonaws.com\"\nbucket = \"b1b\"\n", "\(mediaFile):13:12: endpoint 's3.amazonaws.com' must start with https:// (or http://)"),
        ("endpoint = \"http://x\"\nbucket = \"Bad_Name\"\n", "\(mediaFile):14:10: bucket name 'Bad_Name' is invalid: 3-63 characters of a-z, 0-9, '.' and '-'"),
        ("endpoint = \"http://x\"\nbucket = \"b1b\"\naddressing = \"dns\"\n", "\(mediaFile):15:14: addressing 'dns' must be \"path\" or \"virtual\""),
        ("endpoint = \"http://x\"\nbucket = \"b1b\"\ncredentials_file = \"creds\"\n", "\(mediaFile):15:20: credentials_file 'creds' must be an absolute path"),
    ])
    func bucketTableErrors(_ body: String, _ expected: String) {
        #expect(configError(bucket(body))?.description == expected)
    }

    @Test func kindAndBucketKeysMustAgree() {
        #expect(configError(oneSilo("bucket = \"b1b\"\n"))?.description ==
                "\(mediaFile):5:10: 'bucket' belongs to object-storage silos: add kind = \"s3\", or remove it")
        #expect(configError(oneSilo("kind = \"nfs\"\n"))?.description ==
                "\(mediaFile):5:8: silo kind 'nfs' is unknown (expected \"directory\" or \"s3\")")
    }
}
