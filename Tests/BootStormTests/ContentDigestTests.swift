import BootStorm
import NIOCore
import Testing

@Suite struct ContentDigestTests {
    /// The word-at-a-time path (contiguous chunks, cut anywhere) gives the digest of the byte
    /// at a time path (a collection without contiguous storage), so a download's digest does
    /// not depend on how its bytes arrived.
    @Test func chunkingDoesNotChangeTheDigest() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<10_007).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let oneByOne = ContentDigest.of(bytes.lazy.map { $0 })
        for _ in 0..<20 {
            var digest = ContentDigest()
            var offset = 0
            while offset < bytes.count {
                let length = min(Int.random(in: 0...40, using: &generator), bytes.count - offset)
                digest.update(ByteBuffer(bytes: bytes[offset..<offset + length]).readableBytesView)
                offset += length
            }
            #expect(digest == oneByOne)
        }
        #expect(ContentDigest.of(bytes) == oneByOne)
        #expect(oneByOne.length == bytes.count)
    }

    @Test func aSwappedPairOfBlocksChangesTheDigest() {
        let a = [UInt8](repeating: 1, count: 512), b = [UInt8](repeating: 2, count: 512)
        #expect(ContentDigest.of(a + b) != ContentDigest.of(b + a))
        #expect(ContentDigest.of(a + b) != ContentDigest.of(a + b + [0]))
    }
}
