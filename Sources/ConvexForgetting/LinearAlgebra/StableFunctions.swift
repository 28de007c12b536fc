import Foundation

/// Numerically stable scalar functions used by every objective.
///
/// None of them overflows or loses the answer to cancellation for any finite argument: the DPO loss
/// -log sigma(z) is `softplus(-z)`, never `log(1 + exp(-z))`.
public enum Stable {
    /// softplus(x) = log(1 + e^x), computed as max(x, 0) + log1p(e^{-|x|}).
    @inlinable
    public static func softplus(_ x: Double) -> Double {
        x > 0 ? x + log1p(exp(-x)) : log1p(exp(x))
    }

    /// The logistic function sigma(x) = 1 / (1 + e^{-x}), evaluated so that e^{...} never overflows.
    @inlinable
    public static func sigmoid(_ x: Double) -> Double {
        if x >= 0 { return 1 / (1 + exp(-x)) }
        let e = exp(x)
        return e / (1 + e)
    }

    /// log sum_i exp(v_i) with the maximum factored out.
    @inlinable
    public static func logSumExp(_ v: UnsafeBufferPointer<Double>) -> Double {
        var m = -Double.infinity
        for x in v where x > m { m = x }
        var s = 0.0
        for x in v { s += exp(x - m) }
        return m + log(s)
    }
}
