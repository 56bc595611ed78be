/// Entries per silo (`entryCount(silo:)`) for every silo from one pass over the table: files
/// grouped by the silo holding their data, directories by their set of silos, whose bits are
/// counted here. Both engines run the same SQL.
enum EntryCounts {
    /// Rows of (silo or -1 for directories, the directories' silo bitmask or 0, count).
    static let sql = """
        SELECT CASE WHEN kind = 2 THEN -1 ELSE silo END, CASE WHEN kind = 2 THEN dirsilos ELSE 0 END, count(*)
        FROM entries WHERE ino != 1 GROUP BY 1, 2
        """

    static func perSilo(_ groups: [(silo: Int64, dirSilos: Int64, count: Int64)]) -> [SiloID: Int64] {
        var counts: [SiloID: Int64] = [:]
        for group in groups {
            if group.silo >= 0 { counts[SiloID(group.silo), default: 0] += group.count; continue }
            var bits = UInt64(bitPattern: group.dirSilos)
            while bits != 0 {
                counts[SiloID(bits.trailingZeroBitCount), default: 0] += group.count
                bits &= bits - 1
            }
        }
        return counts
    }
}
