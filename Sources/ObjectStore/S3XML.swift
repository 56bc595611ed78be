/// The little XML S3 answers with, read without a parser: elements are found by name. Enough
/// for ListObjectsV2, multipart and error documents, whose elements hold text or other
/// elements, never mixed content.
struct S3XML {
    let text: Substring

    init(_ bytes: [UInt8]) { text = Substring(String(decoding: bytes, as: UTF8.self)) }
    init(_ text: Substring) { self.text = text }

    /// The inner text of every `<name>...</name>`, in order.
    func all(_ name: String) -> [Substring] {
        let open = "<\(name)>", close = "</\(name)>"
        var result: [Substring] = []
        var rest = text[...]
        while let start = rest.range(of: open) {
            guard let end = rest[start.upperBound...].range(of: close) else { break }
            result.append(rest[start.upperBound..<end.lowerBound])
            rest = rest[end.upperBound...]
        }
        return result
    }

    func first(_ name: String) -> String? { all(name).first.map { S3XML.unescape(String($0)) } }

    static func unescape(_ s: String) -> String {
        guard s.contains("&") else { return s }
        // SeaweedFS writes the quotes around an ETag as numeric references (&#34;).
        return s.replacing("&#34;", with: "\"").replacing("&#39;", with: "'").replacing("&quot;", with: "\"").replacing("&apos;", with: "'").replacing("&lt;", with: "<")
            .replacing("&gt;", with: ">").replacing("&#13;", with: "\r").replacing("&#10;", with: "\n").replacing("&amp;", with: "&")
    }

    static func escape(_ s: String) -> String {
        s.replacing("&", with: "&amp;").replacing("<", with: "&lt;").replacing(">", with: "&gt;").replacing("\"", with: "&quot;")
    }
}

extension Substring {
    func range(of needle: String) -> Range<Substring.Index>? {
        let n = Array(needle.utf8)
        guard let first = n.first else { return nil }
        let utf8 = self.utf8
        var i = utf8.startIndex
        while i != utf8.endIndex {
            if utf8[i] == first {
                var j = i, k = 0
                while k < n.count, j != utf8.endIndex, utf8[j] == n[k] { j = utf8.index(after: j); k += 1 }
                if k == n.count { return i..<j }
            }
            i = utf8.index(after: i)
        }
        return nil
    }
}
