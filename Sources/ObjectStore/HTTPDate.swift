#if canImport(Glibc)
import Glibc
#endif

/// The two date forms S3 uses: ISO 8601 in listings (`2026-12-04T03:39:03.000Z`) and
/// RFC 1123 in headers (`Fri, 04 Dec 2026 03:39:03 GMT`). Nanoseconds since the epoch; 0 when
/// the text is neither.
enum HTTPDate {
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func parse(_ text: String) -> Int64 {
        var tm = Glibc.tm()
        var ns: Int64 = 0
        let fields = text.split(whereSeparator: { " -T:.Z,".contains($0) }).map(String.init)
        if text.contains("T"), fields.count >= 6 {
            guard let y = Int32(fields[0]), let mo = Int32(fields[1]), let d = Int32(fields[2]),
                  let h = Int32(fields[3]), let mi = Int32(fields[4]), let s = Int32(fields[5]) else { return 0 }
            tm.tm_year = y - 1900; tm.tm_mon = mo - 1; tm.tm_mday = d; tm.tm_hour = h; tm.tm_min = mi; tm.tm_sec = s
            if fields.count > 6, fields[6].allSatisfy(\.isNumber) { ns = Int64((fields[6] + "000000000").prefix(9)) ?? 0 }
        } else if fields.count >= 7 {
            // Fri 04 Dec 2026 03 39 03 GMT
            guard let d = Int32(fields[1]), let mo = months.firstIndex(of: fields[2]), let y = Int32(fields[3]),
                  let h = Int32(fields[4]), let mi = Int32(fields[5]), let s = Int32(fields[6]) else { return 0 }
            tm.tm_year = y - 1900; tm.tm_mon = Int32(mo); tm.tm_mday = d; tm.tm_hour = h; tm.tm_min = mi; tm.tm_sec = s
        } else {
            return 0
        }
        return Int64(timegm(&tm)) * 1_000_000_000 + ns
    }
}
