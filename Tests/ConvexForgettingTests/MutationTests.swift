import ConvexForgetting
import Foundation
import Testing

// The catalogue of deliberately wrong methods (`WrongMethods`, issue 9 section 5), injected through the public
// plug-in path (`MethodUnderTest`: a rule run by the shared loop, or a runner), each of which some
// verification must reject, naming the check that did. The correct methods pass every check.

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

    @Test(arguments: WrongMethods.sequential.indices)
    func sequentialMutantIsRejected(_ index: Int) throws {
        let (name, method) = (WrongMethods.sequential[index].mistake, WrongMethods.sequential[index].method)
        let report = try theorem33(method)
        #expect(report.failures > 0, "\(name) passed Theorem 3.3's check")
        // Which check caught it: the envelope catches every one of them.
        #expect(report.failedChecks.contains("envelope"), "\(name): \(report.failedChecks)")
    }

    @Test(arguments: WrongMethods.alright.indices)
    func alrightMutantIsRejected(_ index: Int) throws {
        let (name, method) = (WrongMethods.alright[index].mistake, WrongMethods.alright[index].method)
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
        _ = WrongMethods.dpoGradientWithoutBeta.method.run(trainer, spec) { mutant.append($0) }
        let dpoSteps = zip(builtIn, mutant).dropFirst().filter { $0.0.objective == "dpo" }
        // Same coins; and the DPO steps differ (beta = 2).
        #expect(zip(builtIn, mutant).allSatisfy { $0.0.objective == $0.1.objective })
        #expect(!dpoSteps.isEmpty && builtIn.last!.theta != mutant.last!.theta)
        // Before the first DPO step the two runs are identical.
        let firstDPO = builtIn.firstIndex { $0.objective == "dpo" }!
        for k in 0..<firstDPO { #expect(zip(builtIn[k].theta, mutant[k].theta).allSatisfy { abs($0 - $1) < 1e-14 }) }
    }
}
