import Foundation

/// Random instances of the convex softmax setting with bounded features (Assumption 3.2).
public struct RandomInstanceSpec: Sendable, Equatable {
    public var dimension: Int
    public var outputs: Int
    public var dpoCount: Int
    public var sftCount: Int
    public var featureBound: Double
    public var beta: Double
    public var weightDecay: Double
    public var seed: UInt64

    public init(dimension: Int, outputs: Int, dpoCount: Int, sftCount: Int, featureBound: Double = 1,
                beta: Double = 0.5, weightDecay: Double = 0, seed: UInt64 = 0) {
        self.dimension = dimension
        self.outputs = outputs
        self.dpoCount = dpoCount
        self.sftCount = sftCount
        self.featureBound = featureBound
        self.beta = beta
        self.weightDecay = weightDecay
        self.seed = seed
    }
}

extension Instance {
    /// A random instance: every feature is uniform in the ball of radius Phi (a Gaussian direction times
    /// Phi u^{1/d}); chosen, rejected (distinct) and targets uniform; theta_ref = 0 (uniform reference
    /// policy). Throws when a parameter is out of range (dimension or outputs < 1 or 2, ...).
    public static func random(_ spec: RandomInstanceSpec) throws(FieldError) -> Instance {
        guard spec.dimension >= 1 else { throw FieldError(path: "dim", message: "must be >= 1") }
        guard spec.outputs >= 2 else { throw FieldError(path: "outputs", message: "must be >= 2") }
        guard spec.dpoCount >= 1 else { throw FieldError(path: "dpo", message: "must be >= 1") }
        guard spec.sftCount >= 1 else { throw FieldError(path: "sft", message: "must be >= 1") }
        guard let values = Limits.product([spec.dpoCount + spec.sftCount, spec.outputs, spec.dimension]),
              spec.dpoCount <= Int.max / 2, spec.sftCount <= Int.max / 2, values <= Limits.randomInstanceValues else {
            throw FieldError(path: "dim", message: "dim x outputs x (dpo + sft) is too large (at most \(Limits.randomInstanceValues) numbers)")
        }
        var rng = Xoshiro256StarStar(seed: spec.seed)
        let d = spec.dimension
        func features(_ inputs: Int) throws(FieldError) -> FeatureBlocks {
            var values = [Double](repeating: 0, count: inputs * spec.outputs * d)
            var row = [Double](repeating: 0, count: d)
            for r in 0..<(inputs * spec.outputs) {
                var squared = 0.0
                repeat {
                    squared = 0
                    for c in 0..<d {
                        row[c] = rng.gaussian()
                        squared += row[c] * row[c]
                    }
                } while squared == 0
                let radius = spec.featureBound * pow(rng.uniform(), 1 / Double(d)) / squared.squareRoot()
                for c in 0..<d { values[r * d + c] = row[c] * radius }
            }
            return try FeatureBlocks(dimension: d, offsets: (0...inputs).map { $0 * spec.outputs }, values: values)
        }
        let dpoFeatures = try features(spec.dpoCount)
        var chosen: [Int] = []
        var rejected: [Int] = []
        for _ in 0..<spec.dpoCount {
            let w = rng.index(below: spec.outputs)
            var l = rng.index(below: spec.outputs - 1)
            if l >= w { l += 1 }
            chosen.append(w)
            rejected.append(l)
        }
        let sftFeatures = try features(spec.sftCount)
        let targets = (0..<spec.sftCount).map { _ in rng.index(below: spec.outputs) }
        return try Instance(
            name: "random-d\(d)-k\(spec.outputs)-n\(spec.dpoCount)-m\(spec.sftCount)-seed\(spec.seed)",
            featureBound: spec.featureBound, beta: spec.beta, weightDecay: spec.weightDecay,
            reference: .theta([Double](repeating: 0, count: d)),
            dpoFeatures: dpoFeatures, chosen: chosen, rejected: rejected, sftFeatures: sftFeatures, targets: targets)
    }
}
