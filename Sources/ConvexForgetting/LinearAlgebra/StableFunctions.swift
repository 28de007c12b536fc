import Foundation

/// Numerically stable scalar functions: the one set that every kernel and every test uses. Their
/// exponentials are `Exp.exp` (the toolkit's own, the same bits on every machine and in the seed lanes).
///
/// None of them overflows or loses the answer to cancellation for any finite argument: the DPO loss
/// -log sigma(z) is `softplus(-z)`, never `log(1 + exp(-z))`.
public enum Stable {
    /// softplus(x) = log(1 + e^x), computed as max(x, 0) + log1p(e^{-|x|}).
    @inlinable
    public static func softplus(_ x: Double) -> Double {
        LogisticTerm(margin: -x).loss
    }

    /// One DPO term at margin z: the loss softplus(-z) = -log sigma(z) and sigma(-z), the gradient's
    /// weight, from one exponential e = e^{-|z|}: softplus(-z) = max(-z, 0) + log1p(e), and
    /// sigma(-z) = e / (1 + e) for z >= 0, 1 / (1 + e) for z < 0. Finite for every finite z.
    public struct LogisticTerm {
        public let margin: Double
        @usableFromInline let e: Double

        @inlinable @inline(__always)
        public init(margin z: Double) {
            margin = z
            e = Exp.exp(-abs(z))
        }

        /// softplus(-z) = -log sigma(z).
        @inlinable @inline(__always)
        public var loss: Double { max(-margin, 0) + log1p(e) }

        /// sigma(-z) = 1 - sigma(z).
        @inlinable @inline(__always)
        public var sigmoidOfMinusMargin: Double { (margin >= 0 ? e : 1) / (1 + e) }
    }

    /// The logistic function sigma(x) = 1 / (1 + e^{-x}), evaluated so that e^{...} never overflows.
    @inlinable
    public static func sigmoid(_ x: Double) -> Double {
        if x >= 0 { return 1 / (1 + Exp.exp(-x)) }
        let e = Exp.exp(x)
        return e / (1 + e)
    }

    /// log sum_i exp(v_i) with the maximum factored out (`shiftedExponentials` on a copy).
    public static func logSumExp(_ v: UnsafeBufferPointer<Double>) -> Double {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: max(v.count, 1)) { scratch in
            _ = scratch.initialize(fromContentsOf: v)
            let (m, s) = shiftedExponentials(scratch.baseAddress!, count: v.count)
            return m + log(s)
        }
    }

    /// Overwrites v_j with e^{v_j - m}, m = max_j v_j, and returns m and the sum of the new values (>= 1,
    /// so its logarithm is finite). The first maximum's own e^0 = 1 is written without calling exp. The
    /// SFT kernel's log-sum-exp and softmax both come from here.
    @inline(__always)
    public static func shiftedExponentials(_ v: UnsafeMutablePointer<Double>, count k: Int) -> (largest: Double, sum: Double) {
        var largest = -Double.infinity
        var top = 0
        for j in 0..<k where v[j] > largest {
            largest = v[j]
            top = j
        }
        var sum = 0.0
        for j in 0..<k {
            let e = j == top ? 1 : Exp.exp(v[j] - largest)
            v[j] = e
            sum += e
        }
        return (largest, sum)
    }
}
