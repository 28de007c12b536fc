@testable import ConvexForgetting
import Foundation
import Testing

// Deliberately wrong methods (issue 9, section 5), injected through the public plug-in path
// (`MethodUnderTest`: a rule run by the shared loop, or a runner), each of which some verification must
// reject, naming the check that did. The correct methods pass every check.

/// Sequential that never moves.
struct FrozenRule: SelectionRule {
    mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? { nil }
}

/// Only one of Sequential's phases: `objective` for `steps` updates, then stop.
struct OnePhaseRule: SelectionRule {
    let objective: Objective
    let steps: Int
    mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? { t <= steps ? objective : nil }
}

/// ALRIGHT whose coin picks DPO with probability 1 - lambda.
struct FlippedCoinRule: SelectionRule {
    mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? {
        context.coins.bernoulli(1 - context.lambda) ? .dpo : .sft
    }
}

/// ALRIGHT with alpha0 / t under an inverse-sqrt schedule: the schedule read at t^2.
struct InverseTimeAlrightRule: SelectionRule {
    mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? {
        context.coins.bernoulli(context.lambda) ? .dpo : .sft
    }
    func scheduleIndex(forUpdate t: Int) -> Int { t * t }
}

/// ALRIGHT with only SFT updates.
struct SFTOnlyRule: SelectionRule {
    mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? { .sft }
}

enum Mutants {
    static func sequentialPlan(_ spec: RunSpec) -> SequentialPlan {
        guard case .sequential(let plan) = spec.method else { preconditionFailure("a Sequential spec") }
        return plan
    }

    /// The Sequential mutants: (name, method).
    static let sequential: [(String, MethodUnderTest)] = [
        ("no move at all", .rule("frozen") { _ in FrozenRule() }),
        ("phases swapped", .rule("swapped") { spec in
            var plan = sequentialPlan(spec)
            plan.dpoFirst.toggle()
            return SequentialRule(plan)
        }),
        ("DPO phase only", .rule("dpo-phase-only") { spec in OnePhaseRule(objective: .dpo, steps: sequentialPlan(spec).dpoSteps) }),
        ("SFT phase only", .rule("sft-phase-only") { spec in OnePhaseRule(objective: .sft, steps: sequentialPlan(spec).sftSteps) }),
    ]

    /// ALRIGHT run with a changed schedule.
    static func alright(_ name: String, schedule: @escaping @Sendable (StepSchedule) -> StepSchedule) -> MethodUnderTest {
        MethodUnderTest(name: name) { trainer, spec, record in
            var changed = spec
            changed.schedule = schedule(spec.schedule)
            return trainer.run(AlrightRule(), changed, record: record)
        }
    }

    /// A kernel mutant: ALRIGHT's own loop with the DPO gradient missing its factor beta,
    /// -sigma(-z) dphi instead of -beta sigma(-z) dphi (a runner that replaces the loop).
    static let dpoGradientWithoutBeta = MethodUnderTest(name: "dpo-without-beta") { trainer, spec, record in
        let problem = trainer.problem
        var theta = spec.start ?? problem.defaultStart
        var coins = Xoshiro256StarStar(seed: spec.seed, stream: 1)
        var last = trainer.row(step: 0, objective: "init", stepSize: 0, theta: theta, lambda: spec.lambda, gradEvals: 0, lossEvals: 0)
        if spec.record.nextStep(after: -1) == 0 { record(last) }
        var next = spec.record.nextStep(after: 0)
        for t in 1...spec.steps {
            let objective: Objective = coins.bernoulli(spec.lambda) ? .dpo : .sft
            var g = problem.gradient(objective, at: theta)
            if objective == .dpo { g = g.map { $0 / problem.beta } }
            let alpha = spec.schedule.stepSize(t)
            theta = zip(theta, g).map { $0 - alpha * $1 }
            if t == next || t == spec.steps {
                last = trainer.row(step: t, objective: objective.name, stepSize: alpha, theta: theta, lambda: spec.lambda,
                                   gradEvals: t, lossEvals: 0)
                record(last)
                next = spec.record.nextStep(after: t)
            }
        }
        return RunResult(final: last, steps: spec.steps, gradEvals: spec.steps, lossEvals: 0, divergedAt: nil)
    }

    /// The ALRIGHT mutants: (name, method).
    static let alright: [(String, MethodUnderTest)] = [
        ("coin with 1 - lambda", .rule("flipped-coin") { _ in FlippedCoinRule() }),
        ("alpha0 / t", .rule("inverse-time") { _ in InverseTimeAlrightRule() }),
        ("constant alpha0", alright("constant-rate") { .constant($0.baseRate) }),
        ("10 x alpha0", alright("ten-times-rate") { .inverseSqrt(10 * $0.baseRate) }),
        ("DPO gradient without beta", dpoGradientWithoutBeta),
        ("DPO only", .rule("dpo-only") { _ in DPOOnlyRule() }),
        ("SFT only", .rule("sft-only") { _ in SFTOnlyRule() }),
    ]
}

extension Trainer {
    /// The row of theta (test shorthand for runners written outside the loop).
    func row(step: Int, objective: String, stepSize: Double, theta: [Double], lambda: Double, gradEvals: Int, lossEvals: Int) -> TrajectoryRow {
        theta.withUnsafeBufferPointer {
            row(step: step, objective: objective, stepSize: stepSize, theta: $0, lambda: lambda, gradEvals: gradEvals, lossEvals: lossEvals)
        }
    }
}

@Suite struct MutationTests {
    let lowerBound = try! Problem.load(path: repositoryRoot.appendingPathComponent("Experiments/instances/lower-bound.json").path)

    /// Theorem 3.3's check on a reduced grid: two lambdas, two horizons.
    func theorem33(_ method: MethodUnderTest) throws -> Theorem33Verification.Report {
        var verification = Theorem33Verification()
        verification.lambdas = [0.3, 0.7]
        verification.horizons = [100, 3_000]
        verification.alrightSteps = 10
        verification.sequential = method
        return try verification.run(lowerBound)
    }

    /// Theorem 4.1's check on the lower-bound instance with short horizons: the exact expectation makes it
    /// sharp with 1500 seeds.
    func theorem41(_ method: MethodUnderTest) throws -> Theorem41Verification.Verdict {
        var verification = Theorem41Verification()
        verification.lambdas = [0.2, 0.7]
        verification.horizons = [10, 100, 500]
        verification.exactSeeds = 1_500
        verification.method = method
        return Theorem41Verification.verdict(try verification.run(name: "lower-bound", problem: lowerBound))
    }

    @Test func correctMethodsPassEveryCheck() throws {
        #expect(try theorem33(.builtIn).failures == 0)
        let verdict = try theorem41(.builtIn)
        #expect(verdict.passed, "\(verdict.failedChecks)")
    }

    @Test(arguments: Mutants.sequential.indices)
    func sequentialMutantIsRejected(_ index: Int) throws {
        let (name, method) = Mutants.sequential[index]
        let report = try theorem33(method)
        #expect(report.failures > 0, "\(name) passed Theorem 3.3's check")
        // Which check caught it: the envelope catches every one of them.
        #expect(report.failedChecks.contains("envelope"), "\(name): \(report.failedChecks)")
    }

    @Test(arguments: Mutants.alright.indices)
    func alrightMutantIsRejected(_ index: Int) throws {
        let (name, method) = Mutants.alright[index]
        let verdict = try theorem41(method)
        #expect(!verdict.passed, "\(name) passed Theorem 4.1's check")
        // The exact expectation catches every one of them.
        #expect(verdict.failedChecks.contains("exact"), "\(name): \(verdict.failedChecks)")
    }

    /// The mutant runner is a faithful loop: with beta restored it reproduces the built-in ALRIGHT.
    @Test func mutantRunnerIsFaithful() throws {
        let optima = try OptimalValues(problem: lowerBound, lambda: 0.4)
        let trainer = Trainer(problem: lowerBound, optima: optima)
        let spec = RunSpec(method: .alright, lambda: 0.4, steps: 200, schedule: .inverseSqrt(0.5), seed: 3, record: .all)
        var builtIn: [TrajectoryRow] = [], mutant: [TrajectoryRow] = []
        _ = trainer.run(spec) { builtIn.append($0) }
        _ = Mutants.dpoGradientWithoutBeta.run(trainer, spec) { mutant.append($0) }
        let dpoSteps = zip(builtIn, mutant).dropFirst().filter { $0.0.objective == "dpo" }
        // Same coins; and the DPO steps differ (beta = 2).
        #expect(zip(builtIn, mutant).allSatisfy { $0.0.objective == $0.1.objective })
        #expect(!dpoSteps.isEmpty && builtIn.last!.theta != mutant.last!.theta)
        // Before the first DPO step the two runs are identical.
        let firstDPO = builtIn.firstIndex { $0.objective == "dpo" }!
        for k in 0..<firstDPO { #expect(zip(builtIn[k].theta, mutant[k].theta).allSatisfy { abs($0 - $1) < 1e-14 }) }
    }
}
