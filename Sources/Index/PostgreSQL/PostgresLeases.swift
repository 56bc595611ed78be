/// Leases in PostgreSQL: one row per lease naming its holder, valid while the holder's
/// heartbeat is (see Leases.swift). Every statement is one round trip in autocommit, or part
/// of the caller's write.
extension PostgresSession {
    func serverClock() throws(IndexError) -> Int64 {
        try connection.run("SELECT \(pgNow)").int64(0, 0)
    }

    func forgetNodes(silentFor seconds: Int64) throws(IndexError) {
        var p = PGParams(); p.add(seconds)
        try connection.run("""
            WITH gone AS (DELETE FROM nodes WHERE heartbeat < \(pgNow) - $1 RETURNING id)
            DELETE FROM leases WHERE node IN (SELECT id FROM gone)
            """, p)
    }

    func forgetPredecessors(of node: NodeRow) throws(IndexError) {
        var p = PGParams(); p.add(node.host); p.add(node.mountpoint); p.add(node.id)
        try connection.run("""
            WITH gone AS (DELETE FROM nodes WHERE host = $1 AND mountpoint = $2 AND id <> $3 RETURNING id)
            DELETE FROM leases WHERE node IN (SELECT id FROM gone)
            """, p)
    }

    /// One statement: the upsert locks the lease's row, so two nodes taking a lease whose
    /// holder died cannot both get it; the loser's WHERE sees the winner as alive.
    func takeLease(_ name: String, node: String, deadAfter: Int64) throws(IndexError) -> Bool {
        var p = PGParams(); p.add(name); p.add(node); p.add(deadAfter)
        let r = try connection.run("""
            INSERT INTO leases(name, node, taken) VALUES ($1, $2, \(pgNow))
            ON CONFLICT (name) DO UPDATE SET node = excluded.node, taken = excluded.taken
            WHERE leases.node = excluded.node
               OR NOT EXISTS (SELECT 1 FROM nodes WHERE nodes.id = leases.node AND nodes.heartbeat >= \(pgNow) - $3)
            RETURNING node
            """, p)
        return r.rows == 1
    }

    func holdsLease(_ name: String, node: String) throws(IndexError) -> Bool {
        var p = PGParams(); p.add(name); p.add(node)
        return try connection.run("SELECT 1 FROM leases WHERE name = $1 AND node = $2 FOR SHARE", p).rows == 1
    }

    func lockLiveNodes(deadAfter: Int64) throws(IndexError) -> Set<String> {
        // Every row, not only the live ones: a node's heartbeat that is landing now (an UPDATE
        // of a row whose committed heartbeat is old) must wait for this write or be seen by it.
        var p = PGParams(); p.add(deadAfter)
        let r = try connection.run("SELECT id, heartbeat >= \(pgNow) - $1 FROM nodes FOR SHARE", p)
        return Set((0..<r.rows).compactMap { i in r.text(i, 1) == "t" ? r.text(i, 0) : nil })
    }

    func releaseLease(_ name: String, node: String) throws(IndexError) {
        var p = PGParams(); p.add(name); p.add(node)
        try connection.run("DELETE FROM leases WHERE name = $1 AND node = $2", p)
    }

    func leases() throws(IndexError) -> [LeaseRow] {
        let r = try connection.run("SELECT name, node, taken FROM leases ORDER BY name")
        return (0..<r.rows).map { LeaseRow(name: r.text($0, 0) ?? "", node: r.text($0, 1) ?? "", taken: r.int64($0, 2)) }
    }

    func signal(_ payload: String) throws(IndexError) {
        var p = PGParams(); p.add(PGListener.channel); p.add(payload)
        try connection.run("SELECT pg_notify($1, $2)", p)
    }
}
