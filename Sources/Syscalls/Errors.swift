@_exported import SystemPackage
import CShims

extension Errno {
    /// errno as the failing call left it. Call this first, before any other Swift code runs.
    @inlinable public static var current: Errno { Errno(rawValue: estuary_errno()) }
}

/// Retries `call` while it fails with EINTR; returns its non-negative result or throws the errno.
@inlinable
public func retryingEINTR<T: BinaryInteger>(_ call: () -> T) throws(Errno) -> T {
    while true {
        let rc = call()
        if rc >= 0 { return rc }
        let e = Errno.current
        if e != .interrupted { throw e }
    }
}
