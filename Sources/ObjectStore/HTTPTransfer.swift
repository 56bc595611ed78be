import CCurl

/// One HTTP request as the client sends it. `body` and `sink` are borrowed for the call only.
struct HTTPRequest {
    var method: String
    var url: String
    var headers: [String] = []
    /// What a PUT or POST sends.
    var body: UnsafeRawBufferPointer?
    /// Where a successful GET's bytes go (a read buffer); without it they are collected in
    /// `HTTPResponse.body`.
    var sink: UnsafeMutableRawBufferPointer?
    /// Signed by `SigV4` rather than by curl: curl 7.x sorts the headers it signs as whole
    /// "name:value" lines, so a header whose name begins another's (x-amz-copy-source before
    /// x-amz-copy-source-range) is signed out of order and the server refuses the signature.
    var signsItself = false
}

struct HTTPResponse {
    var status: Int
    /// Header names lower-cased.
    var headers: [String: String]
    /// The body when no sink took it (listings, error documents).
    var body: [UInt8]
    /// Bytes written into the sink.
    var received: Int
}

/// What the curl callbacks of one transfer read and write, reached through their user pointer.
final class TransferState {
    var body: UnsafeRawBufferPointer?
    var bodyOffset = 0
    var sink: UnsafeMutableRawBufferPointer?
    var received = 0
    var collected: [UInt8] = []
    var status = 0
    var headers: [String: String] = [:]

    init(body: UnsafeRawBufferPointer?, sink: UnsafeMutableRawBufferPointer?) { self.body = body; self.sink = sink }

    /// A body that goes to the sink: a 2xx answer. Error documents are collected instead.
    var intoSink: Bool { sink != nil && status >= 200 && status < 300 }
}

let transferWrite: estuary_curl_io = { data, size, count, user in
    let state = Unmanaged<TransferState>.fromOpaque(user!).takeUnretainedValue()
    let n = size * count
    guard let data else { return n }
    if state.intoSink, let sink = state.sink {
        // More than asked for (a server ignoring Range) ends the transfer: 0 makes curl fail it.
        guard state.received + n <= sink.count else { return 0 }
        (sink.baseAddress! + state.received).copyMemory(from: data, byteCount: n)
        state.received += n
    } else if state.collected.count < 16 << 20 {
        state.collected.append(contentsOf: UnsafeRawBufferPointer(start: data, count: n))
    }
    return n
}

let transferRead: estuary_curl_io = { buffer, size, count, user in
    let state = Unmanaged<TransferState>.fromOpaque(user!).takeUnretainedValue()
    guard let body = state.body, let buffer else { return 0 }
    let n = min(size * count, body.count - state.bodyOffset)
    if n > 0 { UnsafeMutableRawPointer(buffer).copyMemory(from: body.baseAddress! + state.bodyOffset, byteCount: n) }
    state.bodyOffset += n
    return n
}

let transferHeader: estuary_curl_io = { data, size, count, user in
    let state = Unmanaged<TransferState>.fromOpaque(user!).takeUnretainedValue()
    let n = size * count
    guard let data else { return n }
    let line = String(decoding: UnsafeRawBufferPointer(start: data, count: n), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
        // A new response (after a 100 Continue or a redirect): its headers start afresh.
        state.status = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        state.headers = [:]
    } else if let colon = line.firstIndex(of: ":") {
        state.headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...]).trimmingSpaces
            .trimmingCharacters(in: "\r\n")
    }
    return n
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
