import CShims
#if canImport(Glibc)
import Glibc
#endif

/// Iterates a directory with `getdents64` into one reusable buffer: no `DIR*`, no per-entry
/// allocation beyond the name handed to the caller. Skips "." and "..".
public struct DirectoryStream: ~Copyable {
    public let fd: Int32
    private let buffer: UnsafeMutableRawPointer
    private let capacity = 64 * 1024
    private var filled = 0
    private var position = 0

    /// Takes ownership of `fd`, an open directory.
    public init(fd: Int32) {
        self.fd = fd
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
    }

    deinit {
        buffer.deallocate()
        Glibc.close(fd)
    }

    /// Frees the buffer and hands the descriptor back, open, to the caller, who closes it:
    /// a walk keeps a directory's descriptor while it descends, but not 64 KiB per level.
    public consuming func releaseDescriptor() -> Int32 {
        buffer.deallocate()
        let fd = self.fd
        discard self
        return fd
    }

    public struct Entry {
        public var name: UnsafeBufferPointer<UInt8>   // valid until the next call to `next`
        public var type: UInt8                         // DT_* value, DT_UNKNOWN on some file systems
        public var inode: UInt64
    }

    /// The next entry, or nil at the end.
    public mutating func next() throws(Errno) -> Entry? {
        while true {
            if position >= filled {
                let n = estuary_getdents64(fd, buffer, capacity)
                if n < 0 { let e = Errno.current; if e == .interrupted { continue }; throw e }
                if n == 0 { return nil }
                filled = n; position = 0
            }
            let record = buffer + position
            let inode = record.loadUnaligned(as: UInt64.self)
            let length = Int(record.loadUnaligned(fromByteOffset: 16, as: UInt16.self))
            let type = record.load(fromByteOffset: 18, as: UInt8.self)
            let namePointer = (record + 19).assumingMemoryBound(to: UInt8.self)
            position += length
            let nameLength = strlen(UnsafeRawPointer(namePointer).assumingMemoryBound(to: CChar.self))
            if namePointer[0] == UInt8(ascii: ".") && (nameLength == 1 || (nameLength == 2 && namePointer[1] == UInt8(ascii: "."))) {
                continue
            }
            return Entry(name: UnsafeBufferPointer(start: namePointer, count: nameLength), type: type, inode: inode)
        }
    }
}
