import Foundation

extension Exp {
    /// How `exp` compares with a higher-precision reference on `points` arguments drawn from `seed`: a
    /// third uniform over [-745, 709.7] (the whole range, subnormal results included), a third over
    /// [-40, 0] (the kernels' arguments: -|z| and l_j - max l) and a third over [-1, 1]. The reference is
    /// the x87 80-bit expl (64-bit significand, itself within an ulp of its own precision, 2^-11 of a
    /// double's ulp), and the error is counted in units of the last place of the rounded reference.
    /// `mismatches` counts arguments where the SIMD4 form differs from the scalar form in any bit.
    public struct Accuracy: Sendable {
        public var points: Int
        /// Largest error over every finite non-zero result; over normal results only.
        public var maxULP: Double
        public var maxULPNormal: Double
        public var worstArgument: Double
        public var mismatches: Int
    }

    #if arch(x86_64)
    public static func accuracy(points: Int, seed: UInt64 = 1) -> Accuracy {
        var rng = Xoshiro256StarStar(seed: seed, stream: 7)
        var result = Accuracy(points: 0, maxULP: 0, maxULPNormal: 0, worstArgument: 0, mismatches: 0)
        var i = 0
        while i < points {
            var x = SIMD4<Double>()
            for lane in 0..<4 {
                let u = rng.uniform()
                switch (i + lane) % 3 {
                case 0: x[lane] = -745 + u * (709.7 + 745)
                case 1: x[lane] = -40 * u
                default: x[lane] = 2 * u - 1
                }
            }
            let vector = exp(x)
            for lane in 0..<4 {
                let e = exp(x[lane])
                if e.bitPattern != vector[lane].bitPattern { result.mismatches += 1 }
                let reference = expl(Float80(x[lane]))
                let rounded = Double(reference)
                guard e != 0, e.isFinite, rounded != 0 else { continue }
                let error = Double(abs(Float80(e) - reference) / Float80(rounded.ulp))
                if error > result.maxULP { result.maxULP = error; result.worstArgument = x[lane] }
                if rounded.isNormal { result.maxULPNormal = max(result.maxULPNormal, error) }
            }
            i += 4
        }
        result.points = i
        return result
    }
    #endif
}
