@testable import Index
import Testing

/// The move signals between nodes share the invalidation channel: each must come back as
/// sent, and neither kind of payload may be read as the other.
struct MoveSignalTests {
    @Test func everyKindRoundTrips() throws {
        for kind in [MoveSignal.Kind.gate, .hold, .switchOver, .release] {
            var request = MoveSignal(kind: kind, from: "a1b2", job: 42, attempt: UInt64.max - 7, ino: 1 << 40)
            request.destination = 3; request.extentSize = 65_536; request.renamed = kind == .hold
            #expect(MoveSignal.decode(request.encoded) == request)
            let ack = request.ack(from: "c3d4", ok: false, detail: "cannot open; errno 2; retry")
            let decoded = try #require(MoveSignal.decode(ack.encoded))
            #expect(decoded == ack)
            #expect(decoded.to == "a1b2" && decoded.answers == kind && !decoded.ok && decoded.detail == "cannot open; errno 2; retry")
        }
    }

    @Test func dirtyExtentsTravelAsAListOrAll() {
        var ack = MoveSignal(kind: .ack, from: "b", job: 1, attempt: 1, ino: 2)
        ack.detail = MoveSignal.extentList([9, 3, 200])
        #expect(MoveSignal.decode(ack.encoded)?.extents == [3, 9, 200])
        ack.detail = MoveSignal.extentList([])
        #expect(MoveSignal.decode(ack.encoded)?.extents == [])
        // Too many for one NOTIFY payload: the mover copies every extent again.
        ack.detail = MoveSignal.extentList(Array(0..<5_000))
        #expect(ack.detail == "*")
        #expect(MoveSignal.decode(ack.encoded)?.extents == nil)
        #expect(ack.encoded.utf8.count < 8_000)
    }

    @Test func invalidationsAndSignalsAreNotMistaken() {
        let change = RemoteChange.encode(writer: 0xabc, inodes: [5, 6], names: [(1, Array("m;x".utf8))])
        #expect(MoveSignal.decode(change) == nil)
        let signal = MoveSignal(kind: .gate, from: "abc", job: 1, attempt: 2, ino: 3).encoded
        #expect(RemoteChange.decode(signal) == nil)
        #expect(MoveSignal.decode("m;gate;short") == nil)
    }
}
