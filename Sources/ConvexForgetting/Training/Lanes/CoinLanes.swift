/// The coins of many seeds, four streams per vector: xoshiro256** (`Xoshiro256StarStar`) on the state
/// words of four generators at once, each lane the same sequence as its scalar generator. A draw is
/// `bernoulli(p)`: uniform() < p, i.e. (next() >> 11) 2^-53 < p, which for the integer n = next() >> 11 < 2^53
/// is exactly n < ceil(p 2^53), compared here on integers.
struct CoinLanes {
    typealias U = SIMD4<UInt64>
    /// State word w of streams 4b...4b+3 at words[4 * b + w]; `blocks` blocks (the last padded).
    let words: UnsafeMutablePointer<U>
    let blocks: Int
    let threshold: SIMD4<Int64>

    init(seeds: [UInt64], probability p: Double) {
        blocks = (seeds.count + 3) / 4
        words = .allocate(capacity: 4 * max(blocks, 1))
        for b in 0..<blocks {
            var lanes = [U](repeating: U(), count: 4)
            for lane in 0..<4 {
                let state = Xoshiro256StarStar(seed: seeds[min(4 * b + lane, seeds.count - 1)], stream: 1).state
                for w in 0..<4 { lanes[w][lane] = state[w] }
            }
            for w in 0..<4 { words[4 * b + w] = lanes[w] }
        }
        threshold = SIMD4(repeating: Int64((p * 0x1p53).rounded(.up)))
    }

    func deallocate() { words.deallocate() }

    /// The next draw of the four streams of block b: true where the step is a DPO step.
    @inline(__always)
    func draw(_ b: Int) -> SIMDMask<SIMD4<Int64>> {
        let w = words + 4 * b
        var s0 = w[0], s1 = w[1], s2 = w[2], s3 = w[3]
        let five = (s1 &<< 2) &+ s1
        let result = ((five &<< 7) | (five &>> 57)) &* 9
        let t = s1 &<< 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 &<< 45) | (s3 &>> 19)
        w[0] = s0; w[1] = s1; w[2] = s2; w[3] = s3
        return SIMD4<Int64>(truncatingIfNeeded: result &>> 11) .< threshold
    }
}
