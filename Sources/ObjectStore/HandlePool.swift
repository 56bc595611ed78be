import Synchronization

/// Idle curl handles, kept with their open connections. A transfer takes one (or makes one)
/// and gives it back, so parallel transfers each have their own and sequential ones reuse a
/// kept-alive connection.
final class HandlePool: Sendable {
    private let idle = Mutex<[CurlHandle]>([])
    private let limit: Int

    init(limit: Int = 32) { self.limit = limit }

    func with<R>(_ body: (CurlHandle) throws(S3Error) -> R) throws(S3Error) -> R {
        guard let handle = idle.withLock({ $0.popLast() }) ?? CurlHandle() else {
            throw S3Error(.unreachable, message: "libcurl could not make a handle")
        }
        defer {
            idle.withLock { if $0.count < limit { $0.append(handle) } }
        }
        return try body(handle)
    }
}
