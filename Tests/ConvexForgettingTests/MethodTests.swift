import ConvexForgetting
import Foundation
import Testing

/// The methods of the paper on small instances, checked from their recorded trajectories.
@Suite struct MethodTests {
    /// A small instance with several data and outputs, weight decay, d = 3.
    static let problem: Problem = {
        let instance = try! Instance.random(RandomInstanceSpec(dimension: 3, outputs: 3, dpoCount: 4, sftCount: 5,
                                                               featureBound: 1, beta: 0.8, weightDecay: 0.05, seed: 11))
        return try! Problem(instance)
    }()

    static func rows(_ spec: RunSpec, problem: Problem = problem) -> (rows: [TrajectoryRow], result: RunResult) {
        let trainer = Trainer(problem: problem, optima: try! OptimalValues(problem: problem, lambda: spec.lambda))
        var rows: [TrajectoryRow] = []
        let result = trainer.run(spec) { rows.append($0) }
        return (rows, result)
    }

    static func objective(_ name: String, lambda: Double) -> Objective {
        switch name {
        case "dpo": .dpo
        case "sft": .sft
        default: .mix(lambda: lambda)
        }
    }

    /// theta_t = theta_{t-1} - step_size * grad f_objective(theta_{t-1}), exactly, for every consecutive pair.
    @Test(arguments: MethodName.allCases, [StepSchedule.constant(0.3), .inverseSqrt(0.5)])
    func updateRuleHoldsExactly(_ method: MethodName, _ schedule: StepSchedule) throws {
        let parameters = method == .maxrightStale ? MethodParameters(evalEvery: 7) : MethodParameters()
        let spec = RunSpec(method: try Method.make(method, steps: 60, parameters: parameters), lambda: 0.4, steps: 60,
                           schedule: schedule, seed: 5, record: .all)
        let (rows, result) = Self.rows(spec)
        #expect(rows.count == result.steps + 1)
        #expect(rows[0].step == 0 && rows[0].objective == "init" && rows[0].theta == Self.problem.defaultStart)
        for (previous, row) in zip(rows, rows.dropFirst()) {
            #expect(row.step == previous.step + 1)
            #expect(row.stepSize == schedule.stepSize(row.step))
            let g = Self.problem.gradient(Self.objective(row.objective, lambda: 0.4), at: previous.theta)
            let expected = (0..<3).map { previous.theta[$0] - row.stepSize * g[$0] }
            #expect(row.theta == expected, "\(method) step \(row.step)")
        }
    }

    @Test func alrightShareOfDPOStepsIsLambda() {
        for lambda in [0.2, 0.5, 0.9] {
            let steps = 20_000
            let (rows, _) = Self.rows(RunSpec(method: .alright, lambda: lambda, steps: steps, schedule: .constant(0.01), seed: 3, record: .all))
            let share = Double(rows.filter { $0.objective == "dpo" }.count) / Double(steps)
            // A 99.99% binomial interval: |share - lambda| <= 4 sigma.
            #expect(abs(share - lambda) <= 4 * (lambda * (1 - lambda) / Double(steps)).squareRoot(), "lambda \(lambda): share \(share)")
        }
        // lambda = 0 and 1 are pure SFT and pure DPO.
        #expect(Self.rows(RunSpec(method: .alright, lambda: 0, steps: 50, schedule: .constant(0.1))).rows.dropFirst().allSatisfy { $0.objective == "sft" })
        #expect(Self.rows(RunSpec(method: .alright, lambda: 1, steps: 50, schedule: .constant(0.1))).rows.dropFirst().allSatisfy { $0.objective == "dpo" })
    }

    @Test func alrightDependsOnTheSeed() {
        let a = Self.rows(RunSpec(method: .alright, lambda: 0.5, steps: 100, schedule: .constant(0.1), seed: 1)).rows
        let b = Self.rows(RunSpec(method: .alright, lambda: 0.5, steps: 100, schedule: .constant(0.1), seed: 2)).rows
        let again = Self.rows(RunSpec(method: .alright, lambda: 0.5, steps: 100, schedule: .constant(0.1), seed: 1)).rows
        #expect(a.map(\.objective) != b.map(\.objective))
        let same = a == again
        #expect(same)
    }

    /// MAXRIGHT steps on the larger weighted gap at the pre-update iterate (ties to DPO).
    @Test func maxrightStepsOnTheLargerWeightedGap() {
        let lambda = 0.3
        let (rows, result) = Self.rows(RunSpec(method: .maxright, lambda: lambda, steps: 400, schedule: .constant(0.2), record: .all))
        var sawBoth = Set<String>()
        for (previous, row) in zip(rows, rows.dropFirst()) {
            let dpoGap = lambda * previous.gapDPO, sftGap = (1 - lambda) * previous.gapSFT
            #expect(row.objective == (dpoGap >= sftGap ? "dpo" : "sft"), "step \(row.step)")
            sawBoth.insert(row.objective)
        }
        #expect(sawBoth == ["dpo", "sft"])
        #expect(result.lossEvals == 2 * 400 && result.gradEvals == 400)
    }

    @Test func staleMaxrightWithKOneIsMaxright() {
        let plain = Self.rows(RunSpec(method: .maxright, lambda: 0.6, steps: 300, schedule: .inverseSqrt(0.5), record: .all))
        let stale = Self.rows(RunSpec(method: .maxrightStale(evalEvery: 1), lambda: 0.6, steps: 300, schedule: .inverseSqrt(0.5), record: .all))
        let same = plain.rows == stale.rows
        #expect(same)
        #expect(plain.result == stale.result)
    }

    /// With k > 1 both objectives are evaluated at steps 1, k + 1, ...; in between the choice follows the
    /// stored gaps, each refreshed with the loss of the objective just updated at its pre-update iterate.
    @Test func staleMaxrightFollowsItsStoredGaps() {
        let lambda = 0.5, k = 10, steps = 205
        let (rows, result) = Self.rows(RunSpec(method: .maxrightStale(evalEvery: k), lambda: lambda, steps: steps,
                                               schedule: .constant(0.2), record: .all))
        #expect(result.lossEvals == 2 * ((steps + k - 1) / k))
        var stored = (dpo: 0.0, sft: 0.0)
        for (previous, row) in zip(rows, rows.dropFirst()) {
            if (row.step - 1) % k == 0 { stored = (lambda * previous.gapDPO, (1 - lambda) * previous.gapSFT) }
            let expected = stored.dpo >= stored.sft ? "dpo" : "sft"
            #expect(row.objective == expected, "step \(row.step)")
            // Refresh with the loss at the pre-update iterate of the objective just stepped on.
            if row.objective == "dpo" { stored.dpo = lambda * previous.gapDPO } else { stored.sft = (1 - lambda) * previous.gapSFT }
        }
    }

    @Test func sequentialPhases() {
        let dpoFirst = Self.rows(RunSpec(method: .sequential(SequentialPlan(dpoFirst: true, dpoSteps: 30, sftSteps: 20)), lambda: 0.5, steps: 1,
                                         schedule: .constant(0.1), record: .all))
        #expect(dpoFirst.rows.dropFirst().map(\.objective) == Array(repeating: "dpo", count: 30) + Array(repeating: "sft", count: 20))
        let sftFirst = Self.rows(RunSpec(method: .sequential(SequentialPlan(dpoFirst: false, dpoSteps: 30, sftSteps: 20)), lambda: 0.5, steps: 1,
                                         schedule: .constant(0.1), record: .all))
        #expect(sftFirst.rows.dropFirst().map(\.objective) == Array(repeating: "sft", count: 20) + Array(repeating: "dpo", count: 30))
        #expect(dpoFirst.result.gradEvals == 50 && dpoFirst.result.lossEvals == 0)
        // T_DPO = T_SFT = --steps by default.
        #expect(Self.rows(RunSpec(method: try! Method.make(.sequential, steps: 12), lambda: 0.5, steps: 12, schedule: .constant(0.1))).result.steps == 24)
    }

    /// With a threshold each phase stops at the first iterate within the threshold of its optimum.
    @Test func sequentialThresholdStops() throws {
        let problem = try figure2Problem()
        let (rows, result) = Self.rows(RunSpec(method: .sequential(SequentialPlan(dpoFirst: true, dpoSteps: 10_000, sftSteps: 10_000, threshold: 0.05)),
                                               lambda: 0.5, steps: 10_000, schedule: .constant(0.01), record: .all), problem: problem)
        let dpoSteps = rows.filter { $0.objective == "dpo" }.count
        let sftSteps = rows.filter { $0.objective == "sft" }.count
        #expect(dpoSteps > 0 && sftSteps > 0 && dpoSteps + sftSteps == result.steps && result.steps < 20_000)
        // Before each DPO step the DPO gap exceeded the threshold; at the switch it is within it.
        #expect(rows[0..<dpoSteps].allSatisfy { $0.gapDPO > 0.05 })
        #expect(rows[dpoSteps].gapDPO <= 0.05)
        #expect(rows[dpoSteps..<(result.steps)].allSatisfy { $0.gapSFT > 0.05 })
        #expect(rows[result.steps].gapSFT <= 0.05)
        // One loss evaluation before every step, plus one that ended each phase.
        #expect(result.lossEvals == result.steps + 2)
    }

    @Test func mixCostsTwoGradientsPerStep() {
        let (_, result) = Self.rows(RunSpec(method: .mix, lambda: 0.5, steps: 40, schedule: .constant(0.1)))
        #expect(result.gradEvals == 80 && result.lossEvals == 0)
    }

    /// With one datum per objective a batch of one is that datum: the batch update equals the full one.
    @Test func batchOfASingleDatumIsTheFullGradient() throws {
        let problem = try figure2Problem()
        for method in [Method.alright, .mix] {
            let full = Self.rows(RunSpec(method: method, lambda: 0.5, steps: 50, schedule: .constant(0.05), seed: 4), problem: problem)
            let batched = Self.rows(RunSpec(method: method, lambda: 0.5, steps: 50, schedule: .constant(0.05), seed: 4, batch: 1), problem: problem)
            let same = full.rows == batched.rows
            #expect(same, "\(method)")
        }
    }

    /// Minibatch ALRIGHT still converges in expectation: with inverse-sqrt steps, the mix gap shrinks.
    @Test func minibatchRunsAreStochasticButConverge() throws {
        let spec = RunSpec(method: .alright, lambda: 0.5, steps: 20_000, schedule: .inverseSqrt(0.5), seed: 8, batch: 2, record: .final)
        let (rows, _) = Self.rows(spec)
        let start = Self.problem.value(.mix(lambda: 0.5), at: Self.problem.defaultStart)
        let optimum = try OptimalValues(problem: Self.problem, lambda: 0.5).mix.value
        #expect(rows.count == 1 && rows[0].step == 20_000)
        #expect(rows[0].gapMix < 0.05 * (start - optimum))
    }

    @Test func recordModes() {
        let log = Self.rows(RunSpec(method: .alright, lambda: 0.5, steps: 100_000, schedule: .constant(0.01)))
        // Default for > 10,000 steps: log, about 50 rows per decade (all of the first ~20 steps), plus the last.
        #expect(log.rows.count >= 200 && log.rows.count <= 280, "\(log.rows.count) rows")
        #expect(log.rows.last?.step == 100_000 && log.rows.first?.step == 0)
        let decade = log.rows.filter { $0.step >= 1000 && $0.step < 10_000 }.count
        #expect(abs(decade - 50) <= 2)
        let every = Self.rows(RunSpec(method: .alright, lambda: 0.5, steps: 95, schedule: .constant(0.01), record: .every(10)))
        #expect(every.rows.map(\.step) == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95])
        let final = Self.rows(RunSpec(method: .alright, lambda: 0.5, steps: 95, schedule: .constant(0.01), record: .final))
        #expect(final.rows.map(\.step) == [95] && final.rows[0].objective != "init")
        // The final row of every mode is the same iterate.
        #expect(final.rows[0] == every.rows.last)
    }

    /// The paper's toy: Sequential ends far from the ideal point, ALRIGHT and MAXRIGHT near it.
    @Test func figure2Outcome() throws {
        let problem = try figure2Problem()
        let optima = try OptimalValues(problem: problem, lambda: 0.5)
        let trainer = Trainer(problem: problem, optima: optima)
        let finals = Figure2.runs(lambda: 0.5, seed: 0, record: .final).map { trainer.run($0) { _ in }.final }
        let (sequential, alright, maxright) = (finals[0].idealDistance, finals[1].idealDistance, finals[2].idealDistance)
        #expect(sequential >= 3 * alright && sequential >= 3 * maxright, "\(sequential) vs \(alright), \(maxright)")
        // ALRIGHT with a constant rate ends close to the mix optimum; Sequential does not.
        #expect(finals[1].gapMix < 1e-3 && finals[0].gapMix > 0.5)
    }

    /// The Figure 2 instance lives only in its file: the construction THEORY.md and the README describe.
    @Test func figure2InstanceFileIsTheDocumentedOne() throws {
        let file = try InstanceFile.load(path: repositoryRoot.appendingPathComponent(Figure2.instancePath).path)
        #expect(file.dpoFeatures.values == [1, 0, -0.5, 0.5] && file.chosen == [0] && file.rejected == [1])
        #expect(file.sftFeatures.values == [0, 1, 0.5, -0.5] && file.targets == [0])
        #expect(file.beta == 1 && file.weightDecay == 0.02 && file.featureBound == 1)
        #expect(file.reference == .fit(initial: [-1, -1], learningRate: 0.01, steps: 1000))
        #expect(try Problem(file).defaultStart == [-1, -1])
    }
}
