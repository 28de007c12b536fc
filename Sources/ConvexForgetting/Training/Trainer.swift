/// The outcome of one run.
public struct RunResult: Sendable, Equatable {
    /// The last iterate's row.
    public var final: TrajectoryRow
    /// Updates taken (Sequential may stop early at its threshold).
    public var steps: Int
    public var gradEvals: Int
    public var lossEvals: Int
}

/// The one training loop all methods share. A method is a `SelectionRule` (which objective at step t) and
/// a `StepSchedule` (alpha_t); the loop does the rest:
///
///     theta_t = theta_{t-1} - alpha_t * grad f_{objective_t}(theta_{t-1})
///
/// with the gradient on the full data or on a batch sampled with replacement. The hot path allocates
/// nothing; rows are built only for recorded steps. Random streams: `seed` stream 1 for the rule's coins,
/// stream 2 for batch sampling (see `Xoshiro256StarStar`).
public struct Trainer: Sendable {
    public let problem: Problem
    public let optima: OptimalValues

    public init(problem: Problem, optima: OptimalValues) {
        self.problem = problem
        self.optima = optima
    }

    /// Runs `spec`, handing every recorded row to `record` in step order.
    public func run(_ spec: RunSpec, record: (TrajectoryRow) throws -> Void) rethrows -> RunResult {
        precondition(spec.lambda == optima.lambda, "optimal values computed for another lambda")
        switch spec.method {
        case .sequential, .sequentialSFTFirst:
            var rule = SequentialRule(dpoFirst: spec.method == .sequential, dpoSteps: spec.dpoSteps ?? spec.steps,
                                      sftSteps: spec.sftSteps ?? spec.steps, threshold: spec.threshold)
            return try loop(&rule, spec, record)
        case .mix:
            var rule = MixRule()
            return try loop(&rule, spec, record)
        case .alright:
            var rule = AlrightRule()
            return try loop(&rule, spec, record)
        case .maxright:
            var rule = MaxrightRule()
            return try loop(&rule, spec, record)
        case .maxrightStale:
            var rule = StaleMaxrightRule(evalEvery: spec.evalEvery)
            return try loop(&rule, spec, record)
        }
    }

    /// The row of iterate theta after `step` updates.
    public func row(step: Int, objective: String, stepSize: Double, theta: UnsafeBufferPointer<Double>,
                    lambda: Double, gradEvals: Int, lossEvals: Int) -> TrajectoryRow {
        let fDPO = problem.evaluate(.dpo, theta.baseAddress!, gradient: nil)
        let fSFT = problem.evaluate(.sft, theta.baseAddress!, gradient: nil)
        let fMix = lambda * fDPO + (1 - lambda) * fSFT
        let gapDPO = fDPO - optima.dpo.value
        let gapSFT = fSFT - optima.sft.value
        return TrajectoryRow(
            step: step, objective: objective, stepSize: stepSize, theta: Array(theta), fDPO: fDPO, fSFT: fSFT,
            fMix: fMix, gapDPO: gapDPO, gapSFT: gapSFT, gapMix: fMix - optima.mix.value,
            idealDistance: (gapDPO * gapDPO + gapSFT * gapSFT).squareRoot(), gradEvals: gradEvals, lossEvals: lossEvals)
    }

    func loop<Rule: SelectionRule>(_ rule: inout Rule, _ spec: RunSpec,
                                   _ record: (TrajectoryRow) throws -> Void) rethrows -> RunResult {
        let d = problem.dimension
        var theta = spec.start ?? problem.defaultStart
        var gradient = [Double](repeating: 0, count: d)
        let batchSize = spec.batch ?? 0
        var dpoBatch = [Int](repeating: 0, count: batchSize)
        var sftBatch = [Int](repeating: 0, count: batchSize)
        var sampler = Xoshiro256StarStar(seed: spec.seed, stream: 2)
        let maximumSteps = spec.maximumSteps
        let schedule = spec.schedule
        let lambda = spec.lambda
        var gradEvals = 0
        var t = 0
        var lastRow: TrajectoryRow?
        var lastObjective: Objective?  // nil before the first update
        var lastStepSize = 0.0

        return try theta.withUnsafeMutableBufferPointer { tp in
            try gradient.withUnsafeMutableBufferPointer { gp in
                try dpoBatch.withUnsafeMutableBufferPointer { db in
                    try sftBatch.withUnsafeMutableBufferPointer { sb in
                        let th = tp.baseAddress!
                        let g = gp.baseAddress!
                        var context = RuleContext(
                            problem: problem, lambda: lambda, optimalDPO: optima.dpo.value,
                            optimalSFT: optima.sft.value, coins: Xoshiro256StarStar(seed: spec.seed, stream: 1), theta: th)
                        func emit() throws {
                            let r = row(step: t, objective: lastObjective?.name ?? "init", stepSize: lastStepSize,
                                        theta: UnsafeBufferPointer(tp), lambda: lambda, gradEvals: gradEvals,
                                        lossEvals: context.lossEvaluations)
                            lastRow = r
                            try record(r)
                        }
                        var nextRecord = spec.record.nextStep(after: -1)
                        if nextRecord == 0 {
                            try emit()
                            nextRecord = spec.record.nextStep(after: 0)
                        }
                        while t < maximumSteps {
                            guard let objective = rule.objective(forStep: t + 1, context: &context) else { break }
                            t += 1
                            let alpha = schedule.stepSize(t)
                            let lossBefore: Double
                            if batchSize == 0 {
                                lossBefore = problem.evaluate(objective, th, gradient: g)
                            } else {
                                let (a, b) = objective.weights
                                if a != 0 { for i in 0..<batchSize { db[i] = sampler.index(below: problem.dpo.count) } }
                                if b != 0 { for i in 0..<batchSize { sb[i] = sampler.index(below: problem.sft.count) } }
                                lossBefore = problem.evaluate(objective, th, dpoBatch: UnsafeBufferPointer(db),
                                                              sftBatch: UnsafeBufferPointer(sb), gradient: g)
                            }
                            gradEvals += objective.gradientCount
                            for k in 0..<d { th[k] = th[k] - alpha * g[k] }
                            rule.didStep(on: objective, lossBefore: lossBefore, context: context)
                            lastObjective = objective
                            lastStepSize = alpha
                            if t == nextRecord || t == maximumSteps {
                                try emit()
                                nextRecord = spec.record.nextStep(after: t)
                            }
                        }
                        if lastRow?.step != t { try emit() }
                        return RunResult(final: lastRow!, steps: t, gradEvals: gradEvals, lossEvals: context.lossEvaluations)
                    }
                }
            }
        }
    }
}

extension Objective {
    /// Gradient evaluations an update on this objective costs: 2 for the mix (both gradients), else 1.
    public var gradientCount: Int {
        if case .mix = self { return 2 }
        return 1
    }
}
