import Foundation

/// The DPO loss of eq. (1) under the softmax policy, without weight decay.
///
/// The normalizers of pi_theta and pi_ref cancel, so with dphi_i = phi(x_i, y_w) - phi(x_i, y_l) and the
/// margin z_i = beta (theta - theta_ref) . dphi_i each term is the logistic loss softplus(-z_i):
///
///     f(theta)       = (1/N) sum_i softplus(-z_i)
///     grad f(theta)  = (1/N) sum_i -beta sigma(-z_i) dphi_i                  (eq. 2-3, 22-24)
///     hess f(theta)  = (1/N) sum_i beta^2 sigma(z_i) sigma(-z_i) dphi_i dphi_i^T   (Prop. A.2, rank one each)
///
/// Only the chosen and rejected features enter: the other outputs of a DPO input do not change the loss.
public struct DPOLoss: Sendable {
    public let dimension: Int
    public let count: Int
    public let beta: Double
    /// dphi_i, `count x dimension`, row-major.
    public let differences: [Double]
    /// dphi_i . theta_ref, so that z_i = beta (dphi_i . theta - referenceMargins[i]).
    public let referenceMargins: [Double]

    public init(features: FeatureBlocks, chosen: [Int], rejected: [Int], beta: Double, thetaRef: [Double]) {
        let d = features.dimension
        dimension = d
        count = features.count
        self.beta = beta
        var differences = [Double](repeating: 0, count: count * d)
        var margins = [Double](repeating: 0, count: count)
        for i in 0..<count {
            let w = features.feature(i, chosen[i])
            let l = features.feature(i, rejected[i])
            var m = 0.0
            for k in 0..<d {
                let v = w[w.startIndex + k] - l[l.startIndex + k]
                differences[i * d + k] = v
                m += v * thetaRef[k]
            }
            margins[i] = m
        }
        self.differences = differences
        referenceMargins = margins
    }

    /// The margin z_i = beta (theta - theta_ref) . dphi_i.
    @inline(__always)
    func margin(_ i: Int, _ theta: UnsafePointer<Double>, _ dphi: UnsafePointer<Double>) -> Double {
        var s = 0.0
        let row = dphi + i * dimension
        for k in 0..<dimension { s += row[k] * theta[k] }
        return beta * (s - referenceMargins[i])
    }

    /// The mean loss over the data; when `gradient` is given, adds `scale` times the mean gradient to it.
    public func evaluate(_ theta: UnsafePointer<Double>, scale: Double,
                         gradient: UnsafeMutablePointer<Double>?) -> Double {
        differences.withUnsafeBufferPointer { dp in
            let dphi = dp.baseAddress!
            var total = 0.0
            let c = -beta * scale / Double(count)
            for i in 0..<count {
                let z = margin(i, theta, dphi)
                total += Stable.softplus(-z)
                if let g = gradient {
                    let coefficient = c * Stable.sigmoid(-z)
                    let row = dphi + i * dimension
                    for k in 0..<dimension { g[k] += coefficient * row[k] }
                }
            }
            return total / Double(count)
        }
    }

    /// The mean loss over the data indices in `batch` (with repetition); when `gradient` is given, adds
    /// `scale` times the mean gradient over the batch to it.
    public func evaluate(_ theta: UnsafePointer<Double>, batch: UnsafeBufferPointer<Int>, scale: Double,
                         gradient: UnsafeMutablePointer<Double>?) -> Double {
        differences.withUnsafeBufferPointer { dp in
            let dphi = dp.baseAddress!
            var total = 0.0
            let c = -beta * scale / Double(batch.count)
            for i in batch {
                let z = margin(i, theta, dphi)
                total += Stable.softplus(-z)
                if let g = gradient {
                    let coefficient = c * Stable.sigmoid(-z)
                    let row = dphi + i * dimension
                    for k in 0..<dimension { g[k] += coefficient * row[k] }
                }
            }
            return total / Double(batch.count)
        }
    }

    /// The loss of datum i and its gradient -beta sigma(-z_i) dphi_i (written into `gradient`).
    public func datumGradient(_ i: Int, _ theta: UnsafePointer<Double>, into gradient: UnsafeMutablePointer<Double>) -> Double {
        differences.withUnsafeBufferPointer { dp in
            let z = margin(i, theta, dp.baseAddress!)
            let coefficient = -beta * Stable.sigmoid(-z)
            for k in 0..<dimension { gradient[k] = coefficient * dp[i * dimension + k] }
            return Stable.softplus(-z)
        }
    }

    /// Adds `scale` times the mean Hessian to the upper triangle of the row-major `hessian`.
    public func addHessian(_ theta: UnsafePointer<Double>, scale: Double, into hessian: UnsafeMutablePointer<Double>) {
        var rows = [Double](repeating: 0, count: count * dimension)
        differences.withUnsafeBufferPointer { dp in
            for i in 0..<count {
                let z = margin(i, theta, dp.baseAddress!)
                let root = beta * (Stable.sigmoid(z) * Stable.sigmoid(-z)).squareRoot()
                for k in 0..<dimension { rows[i * dimension + k] = root * dp[i * dimension + k] }
            }
        }
        rows.withUnsafeBufferPointer {
            LinearAlgebra.addGram($0.baseAddress!, rows: count, n: dimension, alpha: scale / Double(count), into: hessian)
        }
    }
}
