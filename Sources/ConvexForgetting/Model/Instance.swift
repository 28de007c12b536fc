/// How the reference policy pi_ref = pi_{theta_ref} is obtained (paper Section 3.2).
public enum ReferenceSpec: Sendable, Equatable {
    /// theta_ref given directly.
    case theta([Double])
    /// Gradient descent from `initial` on the mean negative log-likelihood of the chosen outputs of the DPO
    /// data (plus weight decay), `steps` steps of size `learningRate`: the paper's "SFT on the chosen
    /// responses" (Appendix A.2, D.1).
    case fit(initial: [Double], learningRate: Double, steps: Int)
}

/// One problem of the paper's convex softmax setting: DPO data, SFT data, beta, weight decay, a feature
/// bound Phi (Assumption 3.2) and the reference policy. Build it with `init(...)`, which validates
/// everything, or load it from a file with `InstanceFile`.
public struct Instance: Sendable, Equatable {
    public let name: String
    /// Phi of Assumption 3.2: every ||phi(x, y)|| <= Phi.
    public let featureBound: Double
    /// The DPO regularization beta > 0 (eq. 1).
    public let beta: Double
    /// mu >= 0: adds mu/2 ||theta||^2 to both objectives (the paper's toy illustration).
    public let weightDecay: Double
    public let reference: ReferenceSpec
    /// DPO inputs: all outputs' features, with the chosen y_w and rejected y_l index per input.
    public let dpoFeatures: FeatureBlocks
    public let chosen: [Int]
    public let rejected: [Int]
    /// SFT inputs: all outputs' features, with the target output index per input.
    public let sftFeatures: FeatureBlocks
    public let targets: [Int]

    /// The dimension d of theta.
    public var dimension: Int { dpoFeatures.dimension }

    /// Validates and builds an instance. Errors name the offending field (`dpo[3].chosen`).
    public init(name: String, featureBound: Double, beta: Double, weightDecay: Double,
                reference: ReferenceSpec, dpoFeatures: FeatureBlocks, chosen: [Int], rejected: [Int],
                sftFeatures: FeatureBlocks, targets: [Int]) throws(FieldError) {
        self.name = name
        self.featureBound = featureBound
        self.beta = beta
        self.weightDecay = weightDecay
        self.reference = reference
        self.dpoFeatures = dpoFeatures
        self.chosen = chosen
        self.rejected = rejected
        self.sftFeatures = sftFeatures
        self.targets = targets
        try validate()
    }

    /// A copy with the given fields replaced, validated again (fields are read-only once validated).
    public func with(name: String? = nil, featureBound: Double? = nil, beta: Double? = nil, weightDecay: Double? = nil,
                     reference: ReferenceSpec? = nil, dpoFeatures: FeatureBlocks? = nil, chosen: [Int]? = nil,
                     rejected: [Int]? = nil, sftFeatures: FeatureBlocks? = nil, targets: [Int]? = nil) throws(FieldError) -> Instance {
        try Instance(name: name ?? self.name, featureBound: featureBound ?? self.featureBound, beta: beta ?? self.beta,
                     weightDecay: weightDecay ?? self.weightDecay, reference: reference ?? self.reference,
                     dpoFeatures: dpoFeatures ?? self.dpoFeatures, chosen: chosen ?? self.chosen,
                     rejected: rejected ?? self.rejected, sftFeatures: sftFeatures ?? self.sftFeatures,
                     targets: targets ?? self.targets)
    }

    /// Checks every rule of the instance schema; the first violation is thrown.
    private func validate() throws(FieldError) {
        func fail(_ path: String, _ message: String) -> FieldError { FieldError(path: path, message: message) }
        guard featureBound.isFinite, featureBound > 0 else {
            throw fail("featureBound", "must be a finite number > 0, got \(featureBound)")
        }
        guard beta.isFinite, beta > 0 else { throw fail("beta", "must be a finite number > 0, got \(beta)") }
        guard weightDecay.isFinite, weightDecay >= 0 else {
            throw fail("weightDecay", "must be a finite number >= 0, got \(weightDecay)")
        }
        // The scales every kernel keeps finite (squares of margins, Hessian entries beta^2 Phi^2): beyond
        // them a legal-looking instance would print inf or NaN, so it is refused instead.
        guard featureBound <= Limits.scale, featureBound >= 1 / Limits.scale else {
            throw fail("featureBound", "must lie in [1e-50, 1e50] (rescale the features), got \(featureBound)")
        }
        guard beta <= Limits.scale, beta >= 1 / Limits.scale else { throw fail("beta", "must lie in [1e-50, 1e50], got \(beta)") }
        guard featureBound * max(1, beta) <= Limits.scale else {
            throw fail("beta", "times featureBound must be at most 1e50 (Hessian entries beta^2 Phi^2), got \(featureBound * beta)")
        }
        guard weightDecay <= Limits.scale else { throw fail("weightDecay", "must be at most 1e50, got \(weightDecay)") }
        let d = dimension
        guard d >= 1 else { throw fail("dpo[0].features", "feature vectors must have at least one entry") }
        guard sftFeatures.dimension == d else {
            throw fail("sft[0].features[0]", "has length \(sftFeatures.dimension), but the DPO features have length \(d)")
        }
        guard dpoFeatures.count > 0 else { throw fail("dpo", "must hold at least one datum") }
        guard sftFeatures.count > 0 else { throw fail("sft", "must hold at least one datum") }
        guard chosen.count == dpoFeatures.count, rejected.count == dpoFeatures.count else {
            throw fail("dpo", "chosen and rejected must have one entry per datum")
        }
        guard targets.count == sftFeatures.count else { throw fail("sft", "target must have one entry per datum") }
        for (label, table) in [("dpo", dpoFeatures), ("sft", sftFeatures)] {
            for i in 0..<table.count {
                let k = table.outputCount(i)
                guard k >= 2 else {
                    throw fail("\(label)[\(i)].features", "needs at least 2 outputs, got \(k)")
                }
                for j in 0..<k {
                    // One pass: the squared norm is finite exactly when every entry is finite and none is huge.
                    let squared = table.values.withUnsafeBufferPointer {
                        Kernels.dot($0.baseAddress! + (table.offsets[i] + j) * d, $0.baseAddress! + (table.offsets[i] + j) * d, d)
                    }
                    if !squared.isFinite, let bad = table.feature(i, j).first(where: { !$0.isFinite }) {
                        throw fail("\(label)[\(i)].features[\(j)]", "contains a non-finite number \(bad)")
                    }
                    // The one pass is exact enough unless the squares of finite entries overflowed (1e200: the
                    // sum is infinite) or underflowed (1e-170: the sum is 0 or subnormal, precision lost);
                    // then, and only then, the scaled form.
                    let norm = squared.isFinite && squared >= .leastNormalMagnitude
                        ? squared.squareRoot() : Self.scaledNorm(table.feature(i, j))
                    // A relative slack of 1e-12 so that vectors normalised to exactly Phi pass.
                    guard norm <= featureBound * (1 + 1e-12) else {
                        throw fail("\(label)[\(i)].features[\(j)]",
                                   "has norm \(norm) above featureBound \(featureBound) (Assumption 3.2)")
                    }
                }
            }
        }
        for i in 0..<dpoFeatures.count {
            let k = dpoFeatures.outputCount(i)
            guard (0..<k).contains(chosen[i]) else {
                throw fail("dpo[\(i)].chosen", "index \(chosen[i]) is out of range 0..<\(k)")
            }
            guard (0..<k).contains(rejected[i]) else {
                throw fail("dpo[\(i)].rejected", "index \(rejected[i]) is out of range 0..<\(k)")
            }
            guard chosen[i] != rejected[i] else {
                throw fail("dpo[\(i)].rejected", "equals chosen (\(chosen[i])); a preference needs two outputs")
            }
        }
        for i in 0..<sftFeatures.count {
            let k = sftFeatures.outputCount(i)
            guard (0..<k).contains(targets[i]) else {
                throw fail("sft[\(i)].target", "index \(targets[i]) is out of range 0..<\(k)")
            }
        }
        // A reference (or start) whose margins |theta . phi| could pass 1e150 makes the losses' squares overflow.
        func checkRange(_ v: [Double], _ path: String) throws(FieldError) {
            let largest = v.reduce(0) { max($0, abs($1)) }
            guard Limits.marginBound(v, featureBound: featureBound, beta: beta) <= Limits.margin else {
                throw fail(path, "has an entry of size \(largest); with featureBound, beta and d its margins would pass 1e150")
            }
        }
        switch reference {
        case .theta(let theta):
            try Self.checkVector(theta, path: "reference.theta", dimension: d)
            try checkRange(theta, "reference.theta")
        case .fit(let initial, let rate, let steps):
            try Self.checkVector(initial, path: "reference.fit.init", dimension: d)
            try checkRange(initial, "reference.fit.init")
            guard rate.isFinite, rate > 0 else {
                throw fail("reference.fit.learningRate", "must be a finite number > 0, got \(rate)")
            }
            guard steps > 0, steps <= Limits.referenceFitSteps else {
                throw fail("reference.fit.steps", "must be > 0 and at most \(Limits.referenceFitSteps), got \(steps)")
            }
        }
    }

    /// ||v|| for finite entries without overflow or underflow: the entries are divided by the largest
    /// magnitude before they are squared, and the root multiplied back. The scale is that magnitude's power
    /// of two, so that dividing and multiplying back are exact.
    static func scaledNorm(_ v: ArraySlice<Double>) -> Double {
        let largest = v.reduce(0) { max($0, abs($1)) }
        guard largest > 0 else { return 0 }
        let scale = Double(sign: .plus, exponent: largest.exponent, significand: 1)
        return scale * v.reduce(0) { $0 + ($1 / scale) * ($1 / scale) }.squareRoot()
    }

    static func checkVector(_ v: [Double], path: String, dimension d: Int) throws(FieldError) {
        guard v.count == d else {
            throw FieldError(path: path, message: "has length \(v.count), but the features have length \(d)")
        }
        if let bad = v.first(where: { !$0.isFinite }) {
            throw FieldError(path: path, message: "contains a non-finite number \(bad)")
        }
    }
}

