import CLibPQ
#if canImport(Glibc)
import Glibc
#endif

/// One libpq connection (blocking) with its prepared statements.
///
/// Every statement with parameters is prepared once per connection (`PQprepare`) under a
/// generated name and run with binary parameters and binary results, so values cross the wire
/// as they are (bytea names untouched, integers without text conversion).
///
/// Thread contract: a connection is used by one thread at a time. `IndexStore` hands each
/// session out exclusively, which is why the `@unchecked Sendable` is sound.
final class PGConnection: @unchecked Sendable {
    let conn: OpaquePointer
    /// Where the connection goes, without a password (for messages).
    let location: String
    private var prepared: [String: String] = [:]
    private var hot = [String?](repeating: nil, count: PGQueries.count)
    /// Exchanges with the server that waited for its answer (one network round trip each):
    /// what a create costs, for tests and benchmarks.
    private(set) var roundTrips = 0

    /// The test knob losing a COMMIT's answer (PGCommitFault); nil in every real use.
    private let fault: PGCommitFault?
    /// The statements of the open write transaction, recorded only while `fault` is set
    /// (nil otherwise, and outside write transactions).
    private var statements: [String]?

    init(conninfo: String, location: String, fault: PGCommitFault? = nil) throws(IndexError) {
        self.location = location
        self.fault = fault
        guard let handle = PQconnectdb(conninfo) else { throw IndexError(.noMemory, "\(location): libpq could not allocate a connection") }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = PGConnection.trimmed(PQerrorMessage(handle))
            PQfinish(handle)
            throw IndexError(PGErrors.connectionKind(message), "\(location): \(message)")
        }
        conn = handle
        // Notices (a NOTICE from CREATE TABLE IF NOT EXISTS) would go to stderr.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
    }

    deinit { PQfinish(conn) }

    static func trimmed(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "unknown error" }
        var s = String(cString: text)
        while s.last == "\n" || s.last == " " { s.removeLast() }
        return s
    }

    /// Statements without parameters or results worth reading (SAVEPOINT, RELEASE) that go to
    /// the server together with the next statement instead of in a round trip of their own.
    private var prelude: [String] = []

    /// Sends `sql` ahead of the next statement. Its failure is reported by that statement.
    func sendWithNext(_ sql: String) { prelude.append(sql) }

    /// Takes back the last statement queued by `sendWithNext` if it is `sql`: a savepoint
    /// around a change that sent nothing is dropped instead of being opened and released.
    func withdraw(_ sql: String) -> Bool {
        guard prelude.last == sql else { return false }
        prelude.removeLast()
        return true
    }

    /// Forgets the queued statements: a ROLLBACK makes them meaningless.
    func discardPrelude() { prelude.removeAll(); statements = nil }

    /// Runs SQL without parameters (one or more statements, simple query protocol), after the
    /// queued prelude in the same message.
    @discardableResult
    func execute(_ sql: String) throws(IndexError) -> PGResult {
        try reconnectIfBroken()
        statements?.append(sql)
        roundTrips += 1
        let text = prelude.isEmpty ? sql : (prelude + [sql]).joined(separator: "; ")
        prelude.removeAll()
        let result = PGResult(PQexec(conn, text))
        try check(result)
        return result
    }

    /// Runs `sql` as a prepared statement with `params` and returns its result.
    @discardableResult
    func run(_ sql: String, _ params: PGParams = PGParams()) throws(IndexError) -> PGResult {
        try reconnectIfBroken()
        statements?.append(sql)
        let name: String
        if let known = prepared[sql] { name = known } else {
            name = "e\(prepared.count)"
            try prepare(name: name, sql: sql, params: params)
            prepared[sql] = name
        }
        return try execute(prepared: name, params)
    }

    /// `run` for a hot-path query, found by number (no hashing of the SQL text).
    @discardableResult
    func run(_ query: PGQuery, _ params: PGParams = PGParams()) throws(IndexError) -> PGResult {
        try reconnectIfBroken()
        statements?.append(query.sql)
        let name: String
        if let known = hot[query.id] { name = known } else {
            name = "h\(query.id)"
            try prepare(name: name, sql: query.sql, params: params)
            hot[query.id] = name
        }
        return try execute(prepared: name, params)
    }

    /// Prepares with the parameter types of the first call: a statement always gets the same
    /// types, and declaring them keeps the server from guessing a width the binary value lacks.
    private func prepare(name: String, sql: String, params: PGParams) throws(IndexError) {
        roundTrips += 1
        let result = params.types.withUnsafeBufferPointer { types in
            PGResult(PQprepare(conn, name, sql, Int32(types.count), types.baseAddress))
        }
        try check(result)
    }

    private func execute(prepared name: String, _ params: PGParams) throws(IndexError) -> PGResult {
        roundTrips += 1
        if !prelude.isEmpty { return try pipelined(prepared: name, params) }
        let result = params.withPointers { count, values, lengths, formats in
            PGResult(PQexecPrepared(conn, name, count, values, lengths, formats, 1))
        }
        try check(result)
        return result
    }

    /// The prelude and the prepared statement in one pipeline (libpq's pipeline mode): one
    /// round trip. The first failure is thrown; statements after it were skipped by the server.
    private func pipelined(prepared name: String, _ params: PGParams) throws(IndexError) -> PGResult {
        let statements = prelude
        prelude.removeAll()
        guard PQenterPipelineMode(conn) == 1 else {
            throw IndexError(.failed, "\(location): cannot enter pipeline mode: \(PGConnection.trimmed(PQerrorMessage(conn)))")
        }
        var sent = true
        for sql in statements where sent { sent = PQsendQueryParams(conn, sql, 0, nil, nil, nil, nil, 0) == 1 }
        if sent {
            sent = params.withPointers { count, values, lengths, formats in
                PQsendQueryPrepared(conn, name, count, values, lengths, formats, 1) == 1
            }
        }
        if sent { sent = PQpipelineSync(conn) == 1 }
        // One result per statement (each followed by a NULL), then the sync point.
        var results: [PGResult] = []
        while sent {
            guard let handle = PQgetResult(conn) else {
                if PQstatus(conn) == CONNECTION_BAD { break }
                continue
            }
            if PQresultStatus(handle) == PGRES_PIPELINE_SYNC { PQclear(handle); break }
            results.append(PGResult(handle))
        }
        PQexitPipelineMode(conn)
        guard sent, results.count == statements.count + 1 else {
            try check(results.first { $0.status != PGRES_COMMAND_OK && $0.status != PGRES_TUPLES_OK } ?? PGResult(nil))
            throw IndexError(.unavailable, "\(location): the pipeline ended early: \(PGConnection.trimmed(PQerrorMessage(conn)))")
        }
        for result in results where result.status != PGRES_COMMAND_OK && result.status != PGRES_TUPLES_OK {
            try check(result)
        }
        try check(results[results.count - 1])
        return results[results.count - 1]
    }

    /// A transaction was open when the connection last answered: losing the connection lost it.
    private var transactionOpen = false

    /// Begins a write transaction and returns its transaction id (text), taken in the same
    /// round trip: if the answer to its COMMIT is lost, the id tells whether it committed.
    func beginWithID() throws(IndexError) -> String? {
        statements = fault == nil ? nil : []
        let result = try execute("BEGIN; SELECT pg_current_xact_id()")
        return result.rows == 1 ? result.text(0, 0) : nil
    }

    /// Sends COMMIT (through the test knob's fault when it is armed for this transaction).
    func commit() throws(IndexError) -> PGResult {
        let ran = statements
        statements = nil
        switch ran.flatMap({ fault?.take($0) }) {
        case .after?:
            // Commits, then the backend ends itself before the answer comes back.
            return try execute("COMMIT; SELECT pg_terminate_backend(pg_backend_pid())")
        case .before?:
            _ = shutdown(PQsocket(conn), Int32(SHUT_RDWR))
            return try execute("COMMIT")
        case nil:
            return try execute("COMMIT")
        }
    }

    /// The server's process serving this connection (known to libpq: no round trip).
    var backendPID: Int32 { PQbackendPID(conn) }

    /// After the connection was lost with a transaction open (its COMMIT sent, answer lost):
    /// connects again outside any transaction, so the transaction's fate can be asked.
    func reconnectAfterLostCommit() throws(IndexError) {
        transactionOpen = false
        prelude.removeAll()
        statements = nil
        try reconnectIfBroken()
    }

    /// A connection the server dropped (a restart, a terminated backend) is opened again before
    /// the next statement, so a session recovers by itself once the server is back. Not inside
    /// a transaction: its earlier statements are gone, and running the rest on a new connection
    /// would commit half of it, so that statement fails and the caller's ROLLBACK ends it.
    private func reconnectIfBroken() throws(IndexError) {
        guard PQstatus(conn) == CONNECTION_BAD else { return }
        if transactionOpen {
            transactionOpen = false
            prelude.removeAll()
            throw IndexError(.unavailable, "\(location): the connection was lost inside a transaction, which the server rolled back")
        }
        PQreset(conn)
        // Prepared statements and the queued prelude belonged to the old server session.
        prepared.removeAll()
        prelude.removeAll()
        hot = [String?](repeating: nil, count: PGQueries.count)
        guard PQstatus(conn) == CONNECTION_OK else {
            throw IndexError(.unavailable, "\(location): \(PGConnection.trimmed(PQerrorMessage(conn)))")
        }
    }

    /// Throws the `IndexError` a failed result means; a missing result is a lost connection.
    private func check(_ result: PGResult) throws(IndexError) {
        if PQstatus(conn) == CONNECTION_OK { transactionOpen = PQtransactionStatus(conn) != PQTRANS_IDLE }
        switch result.status {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY: return
        default:
            let message = result.handle.map { PGConnection.trimmed(PQresultErrorMessage($0)) } ?? PGConnection.trimmed(PQerrorMessage(conn))
            let state = result.sqlState
            let kind = PQstatus(conn) == CONNECTION_BAD ? .unavailable : PGErrors.kind(forSQLState: state)
            throw IndexError(kind, "\(location): \(message)\(state.map { " (SQLSTATE \($0))" } ?? "")")
        }
    }

    var transactionStatus: PGTransactionStatusType { PQtransactionStatus(conn) }
}

/// One query result, cleared when dropped. Columns are read in binary format.
final class PGResult {
    let handle: OpaquePointer?

    init(_ handle: OpaquePointer?) { self.handle = handle }
    deinit { if let handle { PQclear(handle) } }

    var status: ExecStatusType { handle.map { PQresultStatus($0) } ?? PGRES_FATAL_ERROR }
    var sqlState: String? {
        guard let handle, let field = PQresultErrorField(handle, PGResult.sqlStateField) else { return nil }
        return String(cString: field)
    }
    /// PG_DIAG_SQLSTATE, a character-literal macro Swift does not import.
    static let sqlStateField = Int32(UInt8(ascii: "C"))
    var rows: Int32 { handle.map { PQntuples($0) } ?? 0 }
    /// Rows a command changed (`PQcmdTuples`), 0 when it reports none.
    var changed: Int { handle.flatMap { Int(String(cString: PQcmdTuples($0))) } ?? 0 }
    /// The command tag (`COMMIT`, or `ROLLBACK` for a COMMIT of a failed transaction).
    var command: String { handle.map { String(cString: PQcmdStatus($0)) } ?? "" }

    func isNull(_ row: Int32, _ column: Int32) -> Bool { PQgetisnull(handle, row, column) != 0 }

    /// An integer column of any width (int2, int4, int8, bool), big-endian on the wire.
    func int64(_ row: Int32, _ column: Int32) -> Int64 {
        guard let p = PQgetvalue(handle, row, column) else { return 0 }
        let n = Int(PQgetlength(handle, row, column))
        var value: Int64 = 0
        for i in 0..<n { value = value << 8 | Int64(UInt8(bitPattern: p[i])) }
        // Sign-extend the narrower widths.
        if n > 0 && n < 8 && p[0] < 0 { value |= ~0 << Int64(8 * n) }
        return value
    }
    func int(_ row: Int32, _ column: Int32) -> Int { Int(int64(row, column)) }
    func ino(_ row: Int32, _ column: Int32) -> UInt64 { UInt64(bitPattern: int64(row, column)) }
    func double(_ row: Int32, _ column: Int32) -> Double {
        Double(bitPattern: UInt64(bitPattern: int64(row, column)))
    }
    func bytes(_ row: Int32, _ column: Int32) -> [UInt8] {
        let n = Int(PQgetlength(handle, row, column))
        guard n > 0, let p = PQgetvalue(handle, row, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }
    func text(_ row: Int32, _ column: Int32) -> String? {
        isNull(row, column) ? nil : String(decoding: bytes(row, column), as: UTF8.self)
    }
}
