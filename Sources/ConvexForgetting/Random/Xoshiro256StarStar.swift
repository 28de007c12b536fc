import Foundation

/// The toolkit's only source of randomness: xoshiro256** (Blackman and Vigna, 2018), seeded by
/// SplitMix64 (Steele, Lea and Flood, 2014) from one 64-bit seed.
///
/// Everything derived from it is exact integer arithmetic, so a seed gives the same stream on every
/// machine and thread count:
/// - `next()`: the xoshiro256** output, state update s1 <<= 17 / xor / rotl(s3, 45), output rotl(s1 * 5, 7) * 9.
/// - `uniform()`: the top 53 bits of `next()` times 2^-53, in [0, 1).
/// - `bernoulli(p)`: `uniform() < p`.
/// - `index(below: n)`: Lemire's multiply-shift with rejection (unbiased).
/// - `gaussian()`: Box-Muller on two uniforms (cos branch only; uses the platform's log, sqrt and cos).
/// Independent streams for runs, seeds and purposes come from `init(seed:stream:)`, which mixes the stream
/// number into the seed with SplitMix64 before seeding.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64, stream: UInt64 = 0) {
        var sm = seed ^ (stream &* 0xD1B5_4A32_D192_ED03)
        func splitMix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(&sm)
        s1 = splitMix(&sm)
        s2 = splitMix(&sm)
        s3 = splitMix(&sm)
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// True with probability p.
    @inline(__always)
    public mutating func bernoulli(_ p: Double) -> Bool {
        uniform() < p
    }

    /// Uniform in 0..<n, unbiased (Lemire 2019).
    @inline(__always)
    public mutating func index(below n: Int) -> Int {
        let bound = UInt64(n)
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = next().multipliedFullWidth(by: bound) }
        }
        return Int(product.high)
    }

    /// The four state words (for `CoinLanes`, which advances four streams at once).
    var state: SIMD4<UInt64> { SIMD4(s0, s1, s2, s3) }

    /// A standard normal draw (Box-Muller).
    public mutating func gaussian() -> Double {
        let u1 = 1 - uniform()  // (0, 1]
        let u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
