import CLibPQ

/// Parameters of one statement, in PostgreSQL's binary format: integers and floats as 8
/// big-endian bytes, bytea and text as their bytes. Each value declares its type (OID), which
/// the statement is prepared with.
struct PGParams {
    private(set) var types: [Oid] = []
    private var data: [UInt8] = []
    private var offsets: [Int] = []
    private var lengths: [Int32] = []
    private var nulls: [Bool] = []

    init() { data.reserveCapacity(128) }

    static let int8: Oid = 20
    static let text: Oid = 25
    static let float8: Oid = 701
    static let bytea: Oid = 17

    mutating func add(_ value: Int64) { add(value, as: PGParams.int8) }
    mutating func add(_ value: Int) { add(Int64(value)) }
    /// Inode numbers and other unsigned 64-bit values, stored by bit pattern in a bigint.
    mutating func add(_ value: UInt64) { add(Int64(bitPattern: value)) }
    mutating func add(_ value: UInt32) { add(Int64(value)) }
    mutating func add(_ value: Double) { add(Int64(bitPattern: value.bitPattern), as: PGParams.float8) }

    private mutating func add(_ value: Int64, as type: Oid) {
        append(type, count: 8) { data in
            for shift in stride(from: 56, through: 0, by: -8) { data.append(UInt8(truncatingIfNeeded: value >> Int64(shift))) }
        }
    }

    mutating func add(bytes: some Collection<UInt8>) { append(PGParams.bytea, count: bytes.count) { $0.append(contentsOf: bytes) } }
    mutating func add(_ text: String) { append(PGParams.text, count: text.utf8.count) { $0.append(contentsOf: text.utf8) } }
    mutating func add(_ text: String?) { if let text { add(text) } else { addNull(PGParams.text) } }

    /// A NULL of `type` (a statement's parameter keeps one type whatever the value).
    mutating func addNull(_ type: Oid) {
        types.append(type); offsets.append(data.count); lengths.append(0); nulls.append(true)
    }

    private mutating func append(_ type: Oid, count: Int, _ write: (inout [UInt8]) -> Void) {
        types.append(type); offsets.append(data.count); lengths.append(Int32(count)); nulls.append(false)
        write(&data)
    }

    /// Calls `body` with the arrays `PQexecPrepared` takes, valid only during the call.
    func withPointers<R>(_ body: (Int32, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> R) -> R {
        let count = types.count
        if count == 0 { return body(0, nil, nil, nil) }
        let formats = [Int32](repeating: 1, count: count)
        return data.withUnsafeBufferPointer { bytes in
            // A zero-length value still needs a non-null pointer, or libpq sends NULL.
            let base = UnsafeRawPointer(bytes.baseAddress ?? UnsafePointer(bitPattern: 1)!)
            var values = [UnsafePointer<CChar>?](repeating: nil, count: count)
            for i in 0..<count where !nulls[i] {
                values[i] = (base + offsets[i]).assumingMemoryBound(to: CChar.self)
            }
            return values.withUnsafeBufferPointer { v in
                lengths.withUnsafeBufferPointer { l in
                    formats.withUnsafeBufferPointer { f in body(Int32(count), v.baseAddress, l.baseAddress, f.baseAddress) }
                }
            }
        }
    }
}
