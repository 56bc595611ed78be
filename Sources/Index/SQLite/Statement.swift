import CSQLite

/// One prepared statement. Not thread-safe: it belongs to its connection, which one thread
/// uses at a time. Bind indices are 1-based as in SQLite; column indices 0-based.
final class Statement {
    let handle: OpaquePointer
    unowned let connection: Connection

    init(handle: OpaquePointer, connection: Connection) { self.handle = handle; self.connection = connection }
    deinit { sqlite3_finalize(handle) }

    @discardableResult
    func bind(_ index: Int32, _ value: Int64) -> Statement { sqlite3_bind_int64(handle, index, value); return self }
    @discardableResult
    func bind(_ index: Int32, _ value: Int) -> Statement { sqlite3_bind_int64(handle, index, Int64(value)); return self }
    @discardableResult
    func bind(_ index: Int32, _ value: UInt64) -> Statement { sqlite3_bind_int64(handle, index, Int64(bitPattern: value)); return self }
    @discardableResult
    func bind(_ index: Int32, _ value: Double) -> Statement { sqlite3_bind_double(handle, index, value); return self }
    @discardableResult
    func bind(_ index: Int32, _ value: String?) -> Statement {
        guard let value else { sqlite3_bind_null(handle, index); return self }
        var copy = value
        copy.withUTF8 { _ = estuary_sqlite_bind_text_transient(handle, index, UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), Int32($0.count)) }
        return self
    }
    @discardableResult
    func bind(_ index: Int32, blob: [UInt8]) -> Statement {
        blob.withUnsafeBufferPointer { _ = bind(index, blob: $0) }
        return self
    }

    @discardableResult
    func bind(_ index: Int32, blob: some Collection<UInt8>) -> Statement {
        let bytes = Array(blob)
        // An empty blob must still be a blob, not NULL: names are NOT NULL.
        bytes.withUnsafeBytes { _ = estuary_sqlite_bind_blob_transient(handle, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count)) }
        return self
    }
    @discardableResult
    func bind(_ index: Int32, blob pointer: UnsafeBufferPointer<UInt8>) -> Statement {
        _ = estuary_sqlite_bind_blob_transient(handle, index, pointer.baseAddress.map(UnsafeRawPointer.init) ?? UnsafeRawPointer(bitPattern: 1), Int32(pointer.count))
        return self
    }
    @discardableResult
    func bindNull(_ index: Int32) -> Statement { sqlite3_bind_null(handle, index); return self }

    /// Advances; true while a row is available.
    func step() throws(IndexError) -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        let error = connection.error(rc)
        sqlite3_reset(handle)
        throw error
    }

    /// Runs a statement that returns no rows, then resets it.
    func run() throws(IndexError) {
        defer { reset() }
        while try step() {}
    }

    func reset() { sqlite3_reset(handle); sqlite3_clear_bindings(handle) }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
    func text(_ column: Int32) -> String? {
        guard let p = sqlite3_column_text(handle, column) else { return nil }
        let n = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }
    func blob(_ column: Int32) -> [UInt8] {
        let n = Int(sqlite3_column_bytes(handle, column))
        guard n > 0, let p = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }
}
