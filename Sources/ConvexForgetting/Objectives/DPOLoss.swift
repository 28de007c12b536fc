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
public struct DPOLoss: LossStorage {
    public let dimension: Int
    public let count: Int
    public let beta: Double
    /// dphi_i, `count x dimension`, row-major.
    public let differences: [Double]
    /// dphi_i . theta_ref, so that z_i = beta (dphi_i . theta - referenceMargins[i]).
    public let referenceMargins: [Double]

    /// From a validated instance's data (indices in range, thetaRef of length d).
    init(features: FeatureBlocks, chosen: [Int], rejected: [Int], beta: Double, thetaRef: [Double]) {
        let d = features.dimension
        dimension = d
        count = features.count
        self.beta = beta
        var differences = [Double](repeating: 0, count: count * d)
        var margins = [Double](repeating: 0, count: count)
        for i in 0..<count {
            let w = features.feature(i, chosen[i])
            let l = features.feature(i, rejected[i])
            for k in 0..<d { differences[i * d + k] = w[w.startIndex + k] - l[l.startIndex + k] }
            margins[i] = differences.withUnsafeBufferPointer { dp in
                thetaRef.withUnsafeBufferPointer { Kernels.dot(dp.baseAddress! + i * d, $0.baseAddress!, d) }
            }
        }
        self.differences = differences
        referenceMargins = margins
    }

    /// Pointers into the loss's arrays, valid inside `withView`: the form the training loop uses, with no
    /// reference counting per call.
    public struct View: DatumLoss {
        let dimension: Int
        public let count: Int
        let beta: Double
        let dphi: UnsafePointer<Double>
        let margins: UnsafePointer<Double>

        /// The margin z_i = beta (theta - theta_ref) . dphi_i.
        @inline(__always)
        func margin(_ i: Int, _ theta: UnsafePointer<Double>) -> Double {
            beta * (Kernels.dot(dphi + i * dimension, theta, dimension) - margins[i])
        }

        /// Datum i: adds `coefficient` times its gradient to `gradient` (when given) and returns its loss
        /// (when `value`; otherwise 0, saving the logarithm). One exponential either way.
        @inline(__always)
        func datum(_ i: Int, _ theta: UnsafePointer<Double>, coefficient: Double,
                   gradient: UnsafeMutablePointer<Double>?, value: Bool) -> Double {
            let logistic = Stable.LogisticTerm(margin: margin(i, theta))
            if let g = gradient {
                Kernels.axpy(-beta * coefficient * logistic.sigmoidOfMinusMargin, dphi + i * dimension, g, dimension)
            }
            return value ? logistic.loss : 0
        }

    }

    @inline(__always)
    func withView<R>(_ body: (View) throws -> R) rethrows -> R {
        try differences.withUnsafeBufferPointer { dp in
            try referenceMargins.withUnsafeBufferPointer { mp in
                try body(View(dimension: dimension, count: count, beta: beta, dphi: dp.baseAddress!, margins: mp.baseAddress!))
            }
        }
    }

    /// Adds `scale` times the mean Hessian times `v` to `result`, without forming the Hessian:
    /// (1/N) sum_i beta^2 sigma(z_i) sigma(-z_i) (dphi_i . v) dphi_i. O(N d).
    func addHessianVector(_ theta: UnsafePointer<Double>, _ v: UnsafePointer<Double>, scale: Double,
                          into result: UnsafeMutablePointer<Double>) {
        withView { view in
            for i in 0..<count {
                let z = view.margin(i, theta)
                let row = view.dphi + i * dimension
                let weight = beta * beta * Stable.sigmoid(z) * Stable.sigmoid(-z) * Kernels.dot(row, v, dimension)
                Kernels.axpy(scale * weight / Double(count), row, result, dimension)
            }
        }
    }

    /// Adds `scale` times the mean Hessian to the upper triangle of the row-major `hessian`.
    public func addHessian(_ theta: UnsafePointer<Double>, scale: Double, into hessian: UnsafeMutablePointer<Double>) {
        var rows = [Double](repeating: 0, count: count * dimension)
        withView { view in
            for i in 0..<count {
                let z = view.margin(i, theta)
                let root = beta * (Stable.sigmoid(z) * Stable.sigmoid(-z)).squareRoot()
                for k in 0..<dimension { rows[i * dimension + k] = root * view.dphi[i * dimension + k] }
            }
        }
        rows.withUnsafeBufferPointer {
            LinearAlgebra.addGram($0.baseAddress!, rows: count, n: dimension, alpha: scale / Double(count), into: hessian)
        }
    }
}
