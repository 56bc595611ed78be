import Foundation
import TestSupport

/// A test pool with a bucket on the test S3 server as its cold tier, beside local silos.
struct ObjectSiloPool {
    let pool: TestPool
    let server: SeaweedServer
    let bucket: String

    /// `bucket` is made by boto3 (unless `create` is false, to test a missing bucket);
    /// `secret` goes in the credentials file the silo names; `endpoint` puts something (a
    /// proxy) between the daemon and the server.
    init(prefix: String = "", secret: String = SeaweedServer.secretKey, create: Bool = true,
         extraConfig: String = "extent_size = \"64KiB\"\nheat_half_life = 3600", server: SeaweedServer? = nil,
         existingBucket: String? = nil, engine: TestEngine = .sqlite, endpoint: String? = nil) throws {
        let server = try server ?? SeaweedServer.shared()
        self.server = server
        bucket = existingBucket ?? server.uniqueBucket("silo")
        if create && existingBucket == nil { try server.boto("s3.create_bucket(Bucket='\(bucket)')") }
        pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], extraConfig: extraConfig + "\n[tiers]\norder = [\"fast\", \"bulk\", \"cold\"]", watch: false,
                            engine: engine)
        let credentials = pool.root + "/aws-credentials"
        try "[default]\naws_access_key_id = \(SeaweedServer.accessKey)\naws_secret_access_key = \(secret)\n"
            .write(toFile: credentials, atomically: true, encoding: .utf8)
        let table = """

        [[silo]]
        name = "archive"
        kind = "s3"
        endpoint = "\(endpoint ?? server.endpoint)"
        bucket = "\(bucket)"
        prefix = "\(prefix)"
        region = "us-east-1"
        credentials_file = "\(credentials)"
        tier = "cold"

        """
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: pool.configPath))
        handle.seekToEndOfFile()
        handle.write(Data(table.utf8))
        try handle.close()
    }

    /// Puts objects with boto3: key → bytes (written to temp files first, so any bytes pass).
    func put(_ objects: [String: [UInt8]]) throws {
        var script = ""
        for (i, (key, bytes)) in objects.enumerated() {
            let file = pool.root + "/upload-\(i)"
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            script += "s3.upload_file('\(file)', '\(bucket)', '''\(key)''')\n"
        }
        try server.boto(script)
    }

    func keys() throws -> [String] {
        let out = try server.boto("""
        p = s3.get_paginator('list_objects_v2')
        for page in p.paginate(Bucket='\(bucket)'):
            for o in page.get('Contents', []): print(o['Key'])
        """)
        return out.split(separator: "\n").map(String.init).sorted()
    }

    /// An object's bytes as boto3 downloads them; nil when there is no such key.
    func object(_ key: String) throws -> [UInt8]? {
        let file = pool.root + "/download"
        let r = try server.python("s3.download_file('\(bucket)', '''\(key)''', '\(file)')")
        guard r.status == 0 else { return nil }
        return Array(try Data(contentsOf: URL(fileURLWithPath: file)))
    }
}
