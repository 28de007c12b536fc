import Foundation

/// The outcome of one run.
public struct RunResult: Sendable, Equatable {
    /// The last iterate's row.
    public var final: TrajectoryRow
    /// Updates taken (Sequential may stop early at its threshold).
    public var steps: Int
    public var gradEvals: Int
    public var lossEvals: Int
    /// The update that could not be made because it would leave the range where every loss is finite
    /// (or made the iterate non-finite); nil for a run that did not diverge. The run stops there and
    /// `final` is the last good iterate.
    public var divergedAt: Int?
}

/// The one training loop all methods share. A method is a `SelectionRule` (which objective at step t) and
/// a `StepSchedule` (alpha_t); the loop does the rest:
///
///     theta_t = theta_{t-1} - alpha_t * grad f_{objective_t}(theta_{t-1})
///
/// with the gradient on the full data or on a batch sampled with replacement. The hot path works on
/// preallocated buffers (only the parallel slices of large instances hand work to GCD); rows are built only
/// for recorded steps. Random streams: `seed` stream 1 for the rule's coins,
/// stream 2 for batch sampling (see `Xoshiro256StarStar`).
public struct Trainer: Sendable {
    public let problem: Problem
    public let optima: OptimalValues

    public init(problem: Problem, optima: OptimalValues) {
        self.problem = problem
        self.optima = optima
    }

    /// The row of iterate theta after `step` updates.
    /// sqrt(gap_DPO^2 + gap_SFT^2), rescaled where the squares would overflow.
    static func idealDistance(_ a: Double, _ b: Double) -> Double {
        let plain = (a * a + b * b).squareRoot()
        return plain.isFinite ? plain : hypot(a, b)
    }

    func row(step: Int, objective: String, stepSize: Double, theta: UnsafeBufferPointer<Double>,
                    lambda: Double, gradEvals: Int, lossEvals: Int) -> TrajectoryRow {
        let fDPO = problem.evaluate(.dpo, theta.baseAddress!, gradient: nil)
        let fSFT = problem.evaluate(.sft, theta.baseAddress!, gradient: nil)
        let fMix = lambda * fDPO + (1 - lambda) * fSFT
        let gapDPO = fDPO - optima.dpo.value
        let gapSFT = fSFT - optima.sft.value
        return TrajectoryRow(
            step: step, objective: objective, stepSize: stepSize, theta: Array(theta), fDPO: fDPO, fSFT: fSFT,
            fMix: fMix, gapDPO: gapDPO, gapSFT: gapSFT, gapMix: fMix - optima.mix.value,
            idealDistance: Self.idealDistance(gapDPO, gapSFT), gradEvals: gradEvals, lossEvals: lossEvals,
            gapMax: MaxGapOptimum.largestWeightedGap(lambda: lambda, gapDPO: gapDPO, gapSFT: gapSFT) - optima.maxGap.value)
    }

    /// Runs `rule` with the settings of `spec` (its lambda, horizon, schedule, seed, batch, recording and
    /// start; `spec.method` only bounds the number of updates) through the loop every method shares. A
    /// rule defined outside this module runs exactly as the built-in ones do.
    public func run<Rule: SelectionRule>(_ rule: Rule, _ spec: RunSpec,
                                         record: (TrajectoryRow) throws -> Void) rethrows -> RunResult {
        precondition(spec.lambda == optima.lambda, "optimal values computed for another lambda")
        // A spec that skipped `RunSpec.validate` traps here rather than reading outside an array.
        precondition(spec.start.map { $0.count == problem.dimension } ?? true, "start has the wrong dimension")
        precondition((spec.batch ?? 1) >= 1, "batch must be >= 1")
        var rule = rule
        var theta = spec.start ?? problem.defaultStart
        var gradient = [Double](repeating: 0, count: problem.dimension)
        let batchSize = spec.batch ?? 0
        var dpoBatch = [Int](repeating: 0, count: batchSize)
        var sftBatch = [Int](repeating: 0, count: batchSize)
        return try problem.withKernel { kernel in
            try theta.withUnsafeMutableBufferPointer { tp in
                try gradient.withUnsafeMutableBufferPointer { gp in
                    try dpoBatch.withUnsafeMutableBufferPointer { db in
                        try sftBatch.withUnsafeMutableBufferPointer { sb in
                            try steps(&rule, spec, kernel, tp, gp.baseAddress!, db, sb, record)
                        }
                    }
                }
            }
        }
    }

    /// The loop proper, on pointers; its state lives in locals (nothing captured), so the compiler can
    /// keep it in registers.
    @inline(__always)
    func steps<Rule: SelectionRule>(_ rule: inout Rule, _ spec: RunSpec, _ kernel: Problem.Kernel,
                                    _ thetaBuffer: UnsafeMutableBufferPointer<Double>, _ g: UnsafeMutablePointer<Double>,
                                    _ db: UnsafeMutableBufferPointer<Int>, _ sb: UnsafeMutableBufferPointer<Int>,
                                    _ record: (TrajectoryRow) throws -> Void) rethrows -> RunResult {
        let th = thetaBuffer.baseAddress!
        let d = kernel.dimension
        let batchSize = db.count
        let needsLoss = Rule.usesLossBefore
        let maximumSteps = spec.maximumSteps
        let schedule = spec.schedule
        let lambda = spec.lambda
        var sampler = Xoshiro256StarStar(seed: spec.seed, stream: 2)
        var context = RuleContext(kernel: kernel, lambda: lambda, optimalDPO: optima.dpo.value,
                                  optimalSFT: optima.sft.value, coins: Xoshiro256StarStar(seed: spec.seed, stream: 1), theta: th)
        var gradEvals = 0
        var t = 0
        var lastObjective: Objective?  // nil before the first update
        var lastStepSize = 0.0
        var lastRow: TrajectoryRow?
        var divergedAt: Int?
        // Iterates with every coordinate below this keep every margin and logit, and so every loss, finite:
        // |theta . phi| <= sqrt(d) max|theta_k| Phi, and the DPO margin adds beta and theta_ref's margin.
        let limit = 1e300 / (problem.featureBound * Double(d).squareRoot() * max(1, problem.beta))
            - problem.thetaRef.reduce(0) { max($0, abs($1)) }
        var nextRecord = spec.record.nextStep(after: -1)
        if nextRecord == 0 {
            lastRow = row(step: 0, objective: "init", stepSize: 0, theta: UnsafeBufferPointer(thetaBuffer), lambda: lambda,
                          gradEvals: 0, lossEvals: 0)
            try record(lastRow!)
            nextRecord = spec.record.nextStep(after: 0)
        }
        while t < maximumSteps {
            guard let objective = rule.objective(forStep: t + 1, context: &context) else { break }
            t += 1
            let alpha = schedule.stepSize(rule.scheduleIndex(forUpdate: t))
            let lossBefore: Double
            if batchSize == 0 {
                lossBefore = kernel.evaluate(objective, th, gradient: g, value: needsLoss)
            } else {
                let (a, b) = objective.weights
                if a != 0 { for i in 0..<batchSize { db[i] = sampler.index(below: kernel.dpo.count) } }
                if b != 0 { for i in 0..<batchSize { sb[i] = sampler.index(below: kernel.sft.count) } }
                lossBefore = kernel.evaluate(objective, th, dpoBatch: UnsafeBufferPointer(db),
                                             sftBatch: UnsafeBufferPointer(sb), gradient: g, value: needsLoss)
            }
            gradEvals += objective.gradientCount
            // theta_t goes to g first, so that a bad update leaves theta_{t-1} in place: a non-finite
            // coordinate makes `poison` NaN, a huge one passes `limit`.
            var poison = 0.0, largest = 0.0
            for k in 0..<d {
                let v = th[k] - alpha * g[k]
                g[k] = v
                poison += v * 0
                largest = max(largest, abs(v))
            }
            guard poison == 0, largest <= limit else {
                divergedAt = t
                t -= 1
                break
            }
            th.update(from: g, count: d)
            rule.didStep(on: objective, lossBefore: lossBefore, context: context)
            lastObjective = objective
            lastStepSize = alpha
            if t == nextRecord || t == maximumSteps {
                lastRow = row(step: t, objective: objective.name, stepSize: alpha, theta: UnsafeBufferPointer(thetaBuffer),
                              lambda: lambda, gradEvals: gradEvals, lossEvals: context.lossEvaluations)
                try record(lastRow!)
                nextRecord = spec.record.nextStep(after: t)
            }
        }
        if lastRow?.step != t {
            lastRow = row(step: t, objective: lastObjective?.name ?? "init", stepSize: lastStepSize,
                          theta: UnsafeBufferPointer(thetaBuffer), lambda: lambda, gradEvals: gradEvals,
                          lossEvals: context.lossEvaluations)
            try record(lastRow!)
        }
        return RunResult(final: lastRow!, steps: t, gradEvals: gradEvals, lossEvals: context.lossEvaluations,
                         divergedAt: divergedAt)
    }
}

extension Objective {
    /// Gradient evaluations an update on this objective costs: 2 for the mix (both gradients), else 1.
    public var gradientCount: Int {
        if case .mix = self { return 2 }
        return 1
    }
}
