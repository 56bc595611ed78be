import Dispatch
import Synchronization

/// Reads one version of an object through ranged GETs of fixed-size blocks (the pool's
/// extent): no whole-object download before the first byte, the blocks a read spans fetched
/// in parallel, and, once reads run sequentially, the next blocks fetched ahead. Every GET
/// carries If-Match with the ETag taken at open, so a read never mixes two versions: an
/// object replaced behind the mount fails the read (`.changed`) instead.
public final class ObjectReader: Sendable {
    public let client: S3Client
    public let key: String
    public let etag: String
    public let size: Int64
    public let blockSize: Int
    /// Blocks fetched ahead of a sequential reader.
    public let readAhead: Int

    private final class Block: Sendable {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<[UInt8], S3Error>?>(nil)
    }

    private struct State {
        var blocks: [Int: Block] = [:]
        /// The last block a read ended in, to notice sequential reading.
        var lastBlock = -2
    }

    private let state = Mutex(State())

    public init(client: S3Client, key: String, etag: String, size: Int64, blockSize: Int, readAhead: Int = 4) {
        self.client = client; self.key = key; self.etag = etag; self.size = size
        self.blockSize = max(64 << 10, blockSize); self.readAhead = readAhead
    }

    /// Up to `count` bytes at `offset` (fewer at the end of the object).
    public func read(offset: Int64, count: Int) throws(S3Error) -> [UInt8] {
        guard offset < size, count > 0 else { return [] }
        let end = min(size, offset + Int64(count))
        let first = Int(offset / Int64(blockSize)), last = Int((end - 1) / Int64(blockSize))
        let blocks = state.withLock { s -> [Block] in
            let sequential = first == s.lastBlock || first == s.lastBlock + 1
            s.lastBlock = last
            // Blocks well behind the reader are not read again by a sequential reader; a random
            // reader keeps a few. Either way the cache stays small.
            for old in s.blocks.keys where old < first - 1 || old > last + readAhead { s.blocks.removeValue(forKey: old) }
            var wanted = Array(first...last)
            if sequential { wanted += (last + 1)..<min(last + 1 + readAhead, blockCount) }
            return wanted.map { b in
                if let block = s.blocks[b] { return block }
                let block = Block()
                s.blocks[b] = block
                start(b, block)
                return block
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(Int(end - offset))
        for (i, b) in (first...last).enumerated() {
            let block = blocks[i]
            block.done.wait()
            block.done.signal()   // others waiting on the same block pass too
            let data: [UInt8]
            switch block.result.withLock({ $0 }) {
            case .success(let bytes)?: data = bytes
            case .failure(let error)?:
                state.withLock { s in if s.blocks[b] === block { s.blocks.removeValue(forKey: b) } }
                throw error
            case nil: throw S3Error(.invalid, message: "block \(b) of \(key) finished without a result")
            }
            let blockStart = Int64(b) * Int64(blockSize)
            let from = Int(max(offset, blockStart) - blockStart)
            let to = Int(min(end, blockStart + Int64(data.count)) - blockStart)
            if from < to { out += data[from..<to] }
            if blockStart + Int64(data.count) < min(end, blockStart + Int64(blockSize)) { break }   // short: the object ended
        }
        return out
    }

    private var blockCount: Int { Int((size + Int64(blockSize) - 1) / Int64(blockSize)) }

    private func start(_ b: Int, _ block: Block) {
        let (client, key, etag, size, blockSize) = (self.client, self.key, self.etag, self.size, self.blockSize)
        DispatchQueue.global().async {
            let lower = Int64(b) * Int64(blockSize)
            let upper = min(size, lower + Int64(blockSize))
            var bytes = [UInt8](repeating: 0, count: Int(upper - lower))
            let result: Result<[UInt8], S3Error>
            let fetched = bytes.withUnsafeMutableBytes { buffer -> Result<Int, S3Error> in
                do throws(S3Error) { return .success(try client.get(key, range: lower..<upper, ifMatch: etag, into: buffer)) }
                catch { return .failure(error) }
            }
            switch fetched {
            case .success(let n):
                if n < bytes.count { bytes.removeLast(bytes.count - n) }
                result = .success(bytes)
            case .failure(let error): result = .failure(error)
            }
            block.result.withLock { $0 = result }
            block.done.signal()
        }
    }
}
