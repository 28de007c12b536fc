import Foundation

/// The SFT loss of eq. (4), the mean negative log-likelihood under the softmax policy, without weight decay.
///
/// With logits l_ij = theta . phi(x_i, y_j) and p_i = softmax(l_i):
///
///     f(theta)      = (1/M) sum_i [ logsumexp_j l_ij - l_{i, y_i} ]
///     grad f(theta) = (1/M) sum_i [ E_{j ~ p_i} phi_ij - phi_{i, y_i} ]                 (eq. 5, 25-27)
///     hess f(theta) = (1/M) sum_i Cov_{j ~ p_i}[phi_ij]                                  (Prop. A.2)
///
/// One pass per datum over its K x d block computes the logits; a second pass over the same block, while
/// it is still in cache, accumulates the gradient.
public struct SFTLoss: LossStorage {
    public let dimension: Int
    public let features: FeatureBlocks
    public let targets: [Int]
    /// The largest number of outputs of any input (the size of the logit scratch buffer).
    public let maxOutputs: Int

    /// From a validated instance's data (every target in range).
    init(features: FeatureBlocks, targets: [Int]) {
        dimension = features.dimension
        self.features = features
        self.targets = targets
        maxOutputs = (0..<features.count).map(features.outputCount).max() ?? 0
    }

    public var count: Int { features.count }

    /// Pointers into the loss's arrays and a logit scratch buffer, valid inside `withView`.
    public struct View: DatumLoss {
        let dimension: Int
        public let count: Int
        let phi: UnsafePointer<Double>
        let offsets: UnsafePointer<Int>
        let targets: UnsafePointer<Int>
        let logits: UnsafeMutablePointer<Double>
        /// For large instances: the data split into `chunks` fixed slices whose partial gradients (and
        /// losses) go to `partials`, `chunks x (d + 1)`, on all cores, then summed in slice order. The split
        /// does not depend on the thread count, so neither do the results. 0 for small instances.
        let chunks: Int
        let partials: UnsafeMutablePointer<Double>
        let chunkLogits: UnsafeMutablePointer<Double>
        let maxOutputs: Int

        /// Datum i with the views's own logit scratch.
        @inline(__always)
        func datum(_ i: Int, _ theta: UnsafePointer<Double>, coefficient: Double,
                   gradient: UnsafeMutablePointer<Double>?, value: Bool) -> Double {
            datum(i, theta, coefficient: coefficient, gradient: gradient, value: value, logits: logits)
        }

        /// Pass 1 over datum i's K x d block: the logits l_j, their maximum m, and e^{l_j - m} written to
        /// `logits` (`Stable.shiftedExponentials`), with their sum and the target's logit.
        @inline(__always)
        func exponentials(_ i: Int, _ theta: UnsafePointer<Double>, into logits: UnsafeMutablePointer<Double>)
            -> (block: UnsafePointer<Double>, outputs: Int, largest: Double, targetLogit: Double, sum: Double) {
            let d = dimension
            let first = offsets[i]
            let k = offsets[i + 1] - first
            let block = phi + first * d
            for j in 0..<k { logits[j] = Kernels.dot(block + j * d, theta, d) }
            let targetLogit = logits[targets[i]]
            let (largest, sum) = Stable.shiftedExponentials(logits, count: k)
            return (block, k, largest, targetLogit, sum)
        }

        /// Datum i: adds `coefficient` times its gradient to `gradient` (when given) and returns its loss
        /// (when `value`, else 0). Pass 1 over the K x d block: logits; pass 2, while the block is in
        /// cache: the gradient accumulation.
        @inline(__always)
        func datum(_ i: Int, _ theta: UnsafePointer<Double>, coefficient: Double,
                   gradient: UnsafeMutablePointer<Double>?, value: Bool, logits: UnsafeMutablePointer<Double>) -> Double {
            let d = dimension
            let target = targets[i]
            let (block, k, largest, targetLogit, sum) = exponentials(i, theta, into: logits)
            if let g = gradient {
                let inverse = coefficient / sum
                for j in 0..<k {
                    let w = logits[j] * inverse - (j == target ? coefficient : 0)
                    if w != 0 { Kernels.axpy(w, block + j * d, g, d) }
                }
            }
            // -log p_y = log sum_j e^{l_j - m} - (l_y - m), exact even where e^{l_y - m} underflows.
            return value ? log(sum) - (targetLogit - largest) : 0
        }

        /// Mean loss over the data (or over `batch`, with repetition); adds `scale` times the mean gradient.
        /// Full-batch evaluations of large instances run their fixed slices on all cores.
        @inline(__always)
        public func evaluate(_ theta: UnsafePointer<Double>, batch: UnsafeBufferPointer<Int>?, scale: Double,
                             gradient: UnsafeMutablePointer<Double>?, value: Bool = true) -> Double {
            if batch == nil, chunks > 0 { return sliced(theta, scale: scale, gradient: gradient, value: value) }
            return meanOverData(theta, batch: batch, scale: scale, gradient: gradient, value: value)
        }

        func sliced(_ theta: UnsafePointer<Double>, scale: Double, gradient: UnsafeMutablePointer<Double>?, value: Bool) -> Double {
            let d = dimension
            let per = (count + chunks - 1) / chunks
            let coefficient = scale / Double(count)
            let shared = SharedView(view: self, theta: theta, wantGradient: gradient != nil)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let v = shared.view
                let partial = v.partials + c * (d + 1)
                partial.update(repeating: 0, count: d + 1)
                let scratch = v.chunkLogits + c * v.maxOutputs
                var total = 0.0
                for i in (c * per)..<min(v.count, (c + 1) * per) {
                    total += v.datum(i, shared.theta, coefficient: coefficient, gradient: shared.wantGradient ? partial : nil,
                                     value: value, logits: scratch)
                }
                partial[d] = total
            }
            var total = 0.0
            for c in 0..<chunks {
                let partial = partials + c * (d + 1)
                if let g = gradient { Kernels.axpy(1, partial, g, d) }
                total += partial[d]
            }
            return total / Double(count)
        }
    }

    /// The view and the iterate, handed to the worker threads (read-only there but for each slice's own
    /// partial row).
    struct SharedView: @unchecked Sendable {
        let view: View
        let theta: UnsafePointer<Double>
        let wantGradient: Bool
    }

    /// Feature values from which full-batch evaluations run on all cores (8 MB of features).
    public static let parallelThreshold = 1 << 20
    /// The fixed number of slices of a parallel evaluation.
    static let slices = 16

    @inline(__always)
    func withView<R>(_ body: (View) throws -> R) rethrows -> R {
        return try features.values.withUnsafeBufferPointer { vp in
            try features.offsets.withUnsafeBufferPointer { op in
                try targets.withUnsafeBufferPointer { tp in
                    let chunks = features.values.count >= Self.parallelThreshold ? Self.slices : 0
                    let k = max(maxOutputs, 1)
                    return try withUnsafeTemporaryAllocation(of: Double.self, capacity: k + chunks * (dimension + 1 + k)) { scratch in
                        let base = scratch.baseAddress!
                        return try body(View(dimension: dimension, count: count, phi: vp.baseAddress!, offsets: op.baseAddress!,
                                             targets: tp.baseAddress!, logits: base, chunks: chunks, partials: base + k,
                                             chunkLogits: base + k + chunks * (dimension + 1), maxOutputs: k))
                    }
                }
            }
        }
    }

    /// Adds `scale` times the mean Hessian times `v` to `result`, without forming the Hessian: per datum
    /// Cov_p[phi] v = sum_j p_j (u_j - E_p u) phi_j with u_j = phi_j . v. O(sum_i K_i d).
    func addHessianVector(_ theta: UnsafePointer<Double>, _ v: UnsafePointer<Double>, scale: Double,
                          into result: UnsafeMutablePointer<Double>) {
        let d = dimension
        let coefficient = scale / Double(count)
        withView { view in
            let p = view.logits
            for i in 0..<count {
                let (block, k, _, _, sum) = view.exponentials(i, theta, into: p)
                var mean = 0.0
                for j in 0..<k {
                    p[j] /= sum
                    mean += p[j] * Kernels.dot(block + j * d, v, d)
                }
                for j in 0..<k {
                    let w = p[j] * (Kernels.dot(block + j * d, v, d) - mean)
                    if w != 0 { Kernels.axpy(coefficient * w, block + j * d, result, d) }
                }
            }
        }
    }

    /// Adds `scale` times the mean Hessian, the mean softmax covariance of the features, to the upper
    /// triangle of `hessian`. Uses the centred rows sqrt(p_j) (phi_j - E_p phi), so that every datum's
    /// contribution is a Gram matrix (PSD up to rounding), not a difference of two.
    public func addHessian(_ theta: UnsafePointer<Double>, scale: Double, into hessian: UnsafeMutablePointer<Double>) {
        let d = dimension
        let n = count
        // Centred rows for a chunk of data at a time (about 8 MB), each chunk one symmetric rank-k update:
        // the buffer is reused, so the Hessian of a large instance never holds a copy of all its features.
        // No more rows than the data have: a small instance's Hessian (the optima of every sweep) allocated
        // and zeroed the whole 8 MB on each Newton step, a third of a small sweep's time.
        let rowsPerChunk = min(features.offsets[n], max(maxOutputs, (1 << 20) / max(d, 1)))
        var rows = [Double](repeating: 0, count: rowsPerChunk * d)
        var mean = [Double](repeating: 0, count: d)
        let alpha = scale / Double(n)
        withView { view in
            rows.withUnsafeMutableBufferPointer { rp in
                mean.withUnsafeMutableBufferPointer { mp in
                    let p = view.logits
                    let r = rp.baseAddress!, m = mp.baseAddress!
                    var filled = 0
                    for i in 0..<n {
                        if filled + view.offsets[i + 1] - view.offsets[i] > rowsPerChunk {
                            LinearAlgebra.addGram(r, rows: filled, n: d, alpha: alpha, into: hessian)
                            filled = 0
                        }
                        let (block, k, _, _, sum) = view.exponentials(i, theta, into: p)
                        m.update(repeating: 0, count: d)
                        for j in 0..<k {
                            p[j] /= sum
                            Kernels.axpy(p[j], block + j * d, m, d)
                        }
                        for j in 0..<k {
                            let root = p[j].squareRoot()
                            let source = block + j * d, target = r + (filled + j) * d
                            for c in 0..<d { target[c] = root * (source[c] - m[c]) }
                        }
                        filled += k
                    }
                    if filled > 0 { LinearAlgebra.addGram(r, rows: filled, n: d, alpha: alpha, into: hessian) }
                }
            }
        }
    }
}
