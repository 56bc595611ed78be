import CShims

/// Calls `body` with a NUL-terminated copy of `bytes`. Names are raw bytes throughout Estuary
/// because Linux names need not be UTF-8.
@inlinable
public func withCPath<R, E: Error>(_ bytes: some Collection<UInt8>,
                                   _ body: (UnsafePointer<CChar>) throws(E) -> R) throws(E) -> R {
    let count = bytes.count
    // Arrays and their slices (every path Estuary builds): one copy, not a loop per byte.
    var outcome: Result<R, E>?
    bytes.withContiguousStorageIfAvailable { source in
        outcome = withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { buffer -> Result<R, E> in
            if count > 0 { UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: source.baseAddress!, byteCount: count) }
            buffer[count] = 0
            do throws(E) { return .success(try body(UnsafePointer(buffer.baseAddress!))) } catch { return .failure(error) }
        }
    }
    if let outcome { return try outcome.get() }
    if count < 256 {
        return try withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { buffer throws(E) -> R in
            var i = 0
            for byte in bytes { buffer[i] = CChar(bitPattern: byte); i += 1 }
            buffer[count] = 0
            return try body(UnsafePointer(buffer.baseAddress!))
        }
    }
    var copy = [CChar](); copy.reserveCapacity(count + 1)
    for byte in bytes { copy.append(CChar(bitPattern: byte)) }
    copy.append(0)
    return try copy.withUnsafeBufferPointer { buffer throws(E) -> R in try body(buffer.baseAddress!) }
}

/// The bytes of a NUL-terminated C string.
public func bytes(ofCString pointer: UnsafePointer<CChar>) -> [UInt8] {
    let length = strlen(pointer)
    return pointer.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
}

/// A printable rendering of a raw name: valid UTF-8 as is, other bytes as \xNN.
public func displayName(_ bytes: some Collection<UInt8>) -> String {
    if let s = String(validating: Array(bytes), as: UTF8.self) { return s }
    var out = ""
    for b in bytes {
        if b >= 0x20 && b < 0x7f && b != UInt8(ascii: "\\") { out.unicodeScalars.append(Unicode.Scalar(b)) }
        else { out += "\\x" + String(b, radix: 16).leftPad(2) }
    }
    return out
}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}

#if canImport(Glibc)
import Glibc
#endif
