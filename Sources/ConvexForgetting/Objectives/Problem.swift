/// A validated instance made ready to evaluate: theta_ref resolved, the DPO differences precomputed, and
/// weight decay mu/2 ||theta||^2 added to both objectives (and so to every mix, since the weights sum to 1).
///
/// Every objective here is convex (Prop. A.2); with mu > 0 strongly convex.
public struct Problem: Sendable {
    public let instance: Instance
    public let thetaRef: [Double]
    public let dpo: DPOLoss
    public let sft: SFTLoss
    public var dimension: Int { instance.dimension }
    public var weightDecay: Double { instance.weightDecay }
    public var beta: Double { instance.beta }
    public var featureBound: Double { instance.featureBound }

    /// Loads the instance at `path` (a JSON file or an .npy directory) and resolves it; every error names
    /// the file.
    public static func load(path: String) throws(FieldError) -> Problem {
        let instance = try InstanceLoader.load(path: path)
        return try SchemaDocument.attributed(to: path) { () throws(FieldError) in try Problem(instance) }
    }

    /// Throws when a fitted reference diverges (leaves the range where every loss is finite).
    public init(_ instance: Instance) throws(FieldError) {
        self.instance = instance
        let thetaRef = try Self.referenceTheta(instance)
        self.thetaRef = thetaRef
        dpo = DPOLoss(features: instance.dpoFeatures, chosen: instance.chosen, rejected: instance.rejected,
                      beta: instance.beta, thetaRef: thetaRef)
        sft = SFTLoss(features: instance.sftFeatures, targets: instance.targets)
    }

    /// theta_ref: given, or fitted by gradient descent on the mean negative log-likelihood of the DPO data's
    /// chosen outputs plus mu/2 ||theta||^2 (the paper fits pi_ref by SFT on the chosen responses).
    static func referenceTheta(_ instance: Instance) throws(FieldError) -> [Double] {
        switch instance.reference {
        case .theta(let theta):
            return theta
        case .fit(let initial, let rate, let steps):
            let chosenLoss = SFTLoss(features: instance.dpoFeatures, targets: instance.chosen)
            let d = instance.dimension
            let mu = instance.weightDecay
            var theta = initial
            var gradient = [Double](repeating: 0, count: d)
            for _ in 0..<steps {
                theta.withUnsafeBufferPointer { tp in
                    gradient.withUnsafeMutableBufferPointer { gp in
                        for k in 0..<d { gp[k] = mu * tp[k] }
                        _ = chosenLoss.evaluate(tp.baseAddress!, scale: 1, gradient: gp.baseAddress!)
                    }
                }
                for k in 0..<d { theta[k] -= rate * gradient[k] }
            }
            // The fit may diverge with a large rate: refuse a theta_ref whose margins could overflow.
            let largest = theta.reduce(0.0) { $0.isNaN || $1.isNaN ? .nan : max($0, abs($1)) }
            let bound = Limits.marginBound(theta, featureBound: instance.featureBound, beta: instance.beta)
            guard largest.isFinite, bound <= Limits.margin else {
                let reached = largest.isFinite ? "\(largest)" : "a non-finite value"
                throw FieldError(path: "reference.fit", message: "diverges: theta_ref reaches \(reached) in \(steps) steps (lower learningRate)")
            }
            return theta
        }
    }

    // MARK: - Pointer-level evaluation (the training loop's hot path)

    /// Both losses' pointer views and the weight decay: what one evaluation needs, with no reference
    /// counting. Valid inside `withKernel`.
    public struct Kernel {
        public let dimension: Int
        public let weightDecay: Double
        public let dpo: DPOLoss.View
        public let sft: SFTLoss.View

        /// f(theta) of `objective` (0 when `value` is false: the logarithms are skipped); when `gradient` is
        /// given, overwrites it with grad f(theta). With batches, the losses are means over the sampled
        /// indices (with repetition); weight decay is always exact.
        @inline(__always)
        public func evaluate(_ objective: Objective, _ theta: UnsafePointer<Double>, dpoBatch: UnsafeBufferPointer<Int>? = nil,
                             sftBatch: UnsafeBufferPointer<Int>? = nil, gradient: UnsafeMutablePointer<Double>?,
                             value: Bool = true) -> Double {
            let (a, b) = objective.weights
            let d = dimension
            if let g = gradient {
                for k in 0..<d { g[k] = weightDecay * theta[k] }
            }
            var result = 0.0
            if value, weightDecay != 0 { result = 0.5 * weightDecay * Kernels.dot(theta, theta, d) }
            if a != 0 { result += a * dpo.evaluate(theta, batch: dpoBatch, scale: a, gradient: gradient, value: value) }
            if b != 0 { result += b * sft.evaluate(theta, batch: sftBatch, scale: b, gradient: gradient, value: value) }
            return result
        }
    }

    @inline(__always)
    public func withKernel<R>(_ body: (Kernel) throws -> R) rethrows -> R {
        try dpo.withView { dpoView in
            try sft.withView { sftView in
                try body(Kernel(dimension: dimension, weightDecay: weightDecay, dpo: dpoView, sft: sftView))
            }
        }
    }

    /// f(theta) of `objective`; when `gradient` is given, overwrites it with grad f(theta).
    public func evaluate(_ objective: Objective, _ theta: UnsafePointer<Double>,
                         gradient: UnsafeMutablePointer<Double>?) -> Double {
        withKernel { $0.evaluate(objective, theta, gradient: gradient) }
    }

    /// The stochastic version: the losses are means over the sampled data indices (with repetition).
    public func evaluate(_ objective: Objective, _ theta: UnsafePointer<Double>, dpoBatch: UnsafeBufferPointer<Int>,
                         sftBatch: UnsafeBufferPointer<Int>, gradient: UnsafeMutablePointer<Double>?) -> Double {
        withKernel { $0.evaluate(objective, theta, dpoBatch: dpoBatch, sftBatch: sftBatch, gradient: gradient) }
    }

    /// Where training starts unless told otherwise: the `init` of a fitted reference (the paper's toy
    /// starts the methods from the point the reference fit started from), otherwise theta_ref itself.
    public var defaultStart: [Double] {
        if case .fit(let initial, _, _) = instance.reference { return initial }
        return thetaRef
    }

    // MARK: - Array-level evaluation

    /// f(theta).
    public func value(_ objective: Objective, at theta: [Double]) -> Double {
        precondition(theta.count == dimension)
        return theta.withUnsafeBufferPointer { evaluate(objective, $0.baseAddress!, gradient: nil) }
    }

    /// f(theta) and grad f(theta).
    public func valueAndGradient(_ objective: Objective, at theta: [Double]) -> (value: Double, gradient: [Double]) {
        precondition(theta.count == dimension)
        var gradient = [Double](repeating: 0, count: dimension)
        let value = theta.withUnsafeBufferPointer { tp in
            gradient.withUnsafeMutableBufferPointer { evaluate(objective, tp.baseAddress!, gradient: $0.baseAddress!) }
        }
        return (value, gradient)
    }

    public func gradient(_ objective: Objective, at theta: [Double]) -> [Double] {
        valueAndGradient(objective, at: theta).gradient
    }

    /// The exact Hessian of f at theta, row-major d x d (Prop. A.2, eq. 29-33, plus mu I).
    public func hessian(_ objective: Objective, at theta: [Double]) -> [Double] {
        precondition(theta.count == dimension)
        let d = dimension
        let (a, b) = objective.weights
        var h = [Double](repeating: 0, count: d * d)
        theta.withUnsafeBufferPointer { tp in
            h.withUnsafeMutableBufferPointer { hp in
                if a != 0 { dpo.addHessian(tp.baseAddress!, scale: a, into: hp.baseAddress!) }
                if b != 0 { sft.addHessian(tp.baseAddress!, scale: b, into: hp.baseAddress!) }
            }
        }
        LinearAlgebra.symmetrize(&h, n: d)
        for k in 0..<d { h[k * d + k] += weightDecay }
        return h
    }

    /// The exact Hessian of f at theta times v, without forming the Hessian (O(data) work, O(d) memory):
    /// what the matrix-free solver of large instances uses.
    public func hessianVector(_ objective: Objective, at theta: [Double], _ v: [Double]) -> [Double] {
        precondition(theta.count == dimension && v.count == dimension)
        let (a, b) = objective.weights
        var result = v.map { weightDecay * $0 }
        theta.withUnsafeBufferPointer { tp in
            v.withUnsafeBufferPointer { vp in
                result.withUnsafeMutableBufferPointer { rp in
                    if a != 0 { dpo.addHessianVector(tp.baseAddress!, vp.baseAddress!, scale: a, into: rp.baseAddress!) }
                    if b != 0 { sft.addHessianVector(tp.baseAddress!, vp.baseAddress!, scale: b, into: rp.baseAddress!) }
                }
            }
        }
        return result
    }

    /// The gradient of one datum's loss term (no weight decay): the stochastic gradient of Prop. A.1,
    /// whose norm is at most 2 beta Phi (DPO) or 2 Phi (SFT).
    public func datumGradient(_ objective: Objective, datum i: Int, at theta: [Double]) -> (loss: Double, gradient: [Double]) {
        var gradient = [Double](repeating: 0, count: dimension)
        let loss = theta.withUnsafeBufferPointer { tp in
            gradient.withUnsafeMutableBufferPointer { gp in
                switch objective {
                case .dpo: dpo.datumGradient(i, tp.baseAddress!, into: gp.baseAddress!)
                case .sft: sft.datumGradient(i, tp.baseAddress!, into: gp.baseAddress!)
                case .mix: preconditionFailure("per-datum gradients exist for dpo and sft only")
                }
            }
        }
        return (loss, gradient)
    }

    /// ||datum gradient|| for every datum of `objective` (dpo or sft) at theta: what Prop. A.1 bounds by
    /// 2 beta Phi (DPO) and 2 Phi (SFT).
    public func datumGradientNorms(_ objective: Objective, at theta: [Double]) -> [Double] {
        (0..<dataCount(objective)).map { i in
            datumGradient(objective, datum: i, at: theta).gradient.reduce(0) { $0 + $1 * $1 }.squareRoot()
        }
    }

    /// The number of linear forms of the attainment LP: one per DPO datum, one per non-target SFT output.
    public var linearFormCount: Int { dpo.count + sft.features.offsets[sft.count] - sft.count }

    /// The number of data of an objective (dpo or sft).
    public func dataCount(_ objective: Objective) -> Int {
        switch objective {
        case .dpo: dpo.count
        case .sft: sft.count
        case .mix: dpo.count + sft.count
        }
    }
}
