/// One page of ListObjectsV2.
public struct ListPage: Sendable {
    public var objects: [ObjectInfo]
    /// Common prefixes (the "directories" under a delimiter), whole keys ending in the delimiter.
    public var prefixes: [String]
    /// Where the next page starts; nil on the last one.
    public var continuation: String?
}

extension S3Client {
    /// One page of the keys under `prefix`; with `delimiter`, keys below the next delimiter are
    /// folded into common prefixes. Keys come URL-encoded (encoding-type=url), so any byte a
    /// key holds survives the XML.
    public func list(prefix: String, delimiter: String? = "/", continuation: String? = nil, maxKeys: Int = 1000) throws(S3Error) -> ListPage {
        var query: [(String, String)] = [("list-type", "2"), ("prefix", prefix), ("encoding-type", "url"), ("max-keys", String(maxKeys))]
        if let delimiter { query.append(("delimiter", delimiter)) }
        if let continuation { query.append(("continuation-token", continuation)) }
        let response = try send(HTTPRequest(method: "GET", url: endpoint.url(key: "", query: S3Endpoint.query(query))))
        let xml = S3XML(response.body)
        let key = { (s: String) in String(decoding: S3Endpoint.decode(s), as: UTF8.self) }
        let objects = xml.all("Contents").map { element in
            let item = S3XML(element)
            return ObjectInfo(key: key(item.first("Key") ?? ""), size: Int64(item.first("Size") ?? "") ?? 0,
                              etag: S3Client.unquote(item.first("ETag") ?? ""), lastModified: HTTPDate.parse(item.first("LastModified") ?? ""))
        }
        let prefixes = xml.all("CommonPrefixes").compactMap { S3XML($0).first("Prefix") }.map(key)
        let truncated = xml.first("IsTruncated") == "true"
        let next = xml.first("NextContinuationToken")
        if truncated && next == nil { throw S3Error(.invalid, message: "a truncated listing without a continuation token") }
        return ListPage(objects: objects, prefixes: prefixes, continuation: truncated ? next : nil)
    }

    /// Every page of a listing, concatenated.
    public func listAll(prefix: String, delimiter: String? = "/") throws(S3Error) -> (objects: [ObjectInfo], prefixes: [String]) {
        var objects: [ObjectInfo] = [], prefixes: [String] = []
        var token: String?
        repeat {
            let page = try list(prefix: prefix, delimiter: delimiter, continuation: token)
            objects += page.objects; prefixes += page.prefixes
            token = page.continuation
        } while token != nil
        return (objects, prefixes)
    }
}
