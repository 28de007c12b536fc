import ConvexForgetting
import Foundation
import PropertyBased
import Testing

/// The lemmas behind the Theorem 3.3 floor, the Theorem 4.1 constants, and both verify commands on reduced grids.
@Suite struct TheoremTests {
    static let lowerBound = repositoryRoot.appendingPathComponent("Experiments/instances/lower-bound.json").path

    /// Lemma 1 and Lemma 2 of ScalarRecursion on simulated recursions with random step sequences.
    @Test func scalarRecursionLemmasHold() async {
        await propertyCheck(count: 200, input: Gen.double(in: -8...8), Gen.double(in: 0.01...2), Gen.double(in: -3...6), Gen.int(in: 0...1)) { u0, kappa, target, decaying in
            var u = u0
            var kappaSum = 0.0
            var hit: Int? = u0 >= target ? 0 : nil
            let steps = 4000
            var smallest = Double.infinity
            for t in 1...steps {
                let k = decaying == 1 ? kappa / Double(t).squareRoot() : kappa
                smallest = min(smallest, k)
                u += k * Stable.sigmoid(-u)
                kappaSum += k * exp(k)
                #expect(u <= ScalarRecursion.growthBound(start: u0, kappaSum: kappaSum) + 1e-9)
                if hit == nil, u >= target { hit = t }
            }
            let needed = ScalarRecursion.hittingSteps(from: u0, to: target, kappaMin: smallest)
            if needed <= Double(steps) {
                #expect(hit != nil && Double(hit!) <= needed, "u0 \(u0) kappa \(kappa) target \(target): hit \(String(describing: hit)) needed \(needed)")
            }
        }
    }

    @Test func lowerBoundInstanceMeetsTheConstruction() throws {
        let problem = try Problem(try InstanceFile.load(path: Self.lowerBound))
        let analysis = try LowerBoundAnalysis(problem: problem)
        #expect(analysis.sftScale == 1 && analysis.squaredNorm == 2)
        // Two outputs per input, distinct inputs, features within the bound: validated by loading. The mix
        // minimum is attained for every lambda in (0, 1) and the single objectives are not.
        for lambda in stride(from: 0.05, through: 0.95, by: 0.05) {
            #expect(try Attainment.isAttained(problem, .mix(lambda: lambda)))
        }
        #expect(try !Attainment.isAttained(problem, .dpo) && !Attainment.isAttained(problem, .sft))
        // The minimizer set is a line: D is the distance along a only.
        let optimum = try NewtonSolver().minimize(problem, .mix(lambda: 0.5))
        let start = [3.0, 7.0]
        let expected = abs(analysis.margin(start) - analysis.optimalMargin(optimum)) / 2.0.squareRoot()
        let distance = try Theorem41Bound.distanceToMinimizers(problem, lambda: 0.5, optimum: optimum, from: start)
        #expect(abs(distance - expected) <= 1e-9)
    }

    @Test func theorem41ConstantsMatchPropositionA1() throws {
        let problem = try Problem(try InstanceFile.load(path: Self.lowerBound))
        let optimum = try NewtonSolver().minimize(problem, .mix(lambda: 0.25))
        let bound = try Theorem41Bound(problem: problem, lambda: 0.25, alpha0: 0.5, optimum: optimum, start: problem.defaultStart)
        // beta = 2, Phi = 1: M = 0.25 * 16 + 0.75 * 4 = 7; tight: beta ||dphi|| = 2 sqrt 2, ||phi_o - phi_t|| = sqrt 2.
        #expect(abs(bound.paperM - 7) <= 1e-12)
        #expect(abs(bound.tightM - (0.25 * 8 + 0.75 * 2)) <= 1e-12)
        let T = 400
        let expected = (bound.distance * bound.distance / 1.0 + 0.75 * 7 * (1 + log(400.0))) / 20
        #expect(abs(bound.paper(T) - expected) <= 1e-12)
    }

    @Test func verifyTheorem33OnAReducedGrid() throws {
        let result = try runCLI(["verify", "theorem33", "--instance", Self.lowerBound, "--lambdas", "0.1,0.5,0.9",
                                 "--horizons", "10,100,1000,10000", "--alright-steps", "20000"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(" 0 below the floor"))
        let rows = result.stdout.split(separator: "\n").filter { $0.hasPrefix("DPO->") || $0.hasPrefix("SFT->") }
        // 7 variants x 3 lambdas in the floor table (the envelope and sharpness tables follow).
        #expect(rows.count >= 21 && !rows.prefix(21).contains { $0.contains("X") || $0.contains("E") || $0.contains("C") })
        // Some cells are checked in every row; no output leaves its envelope.
        #expect(result.stdout.contains("0 of 21 rows certified nothing"))
        #expect(result.stdout.contains("0 outputs outside their envelope, 0 gaps below their certified floor"))
    }

    @Test func verifyTheorem41OnAReducedGrid() throws {
        let instances = ["lower-bound", "random-a", "random-b"].flatMap {
            ["--instance", repositoryRoot.appendingPathComponent("Experiments/instances/\($0).json").path]
        }
        let result = try runCLI(["verify", "theorem41", "--seeds", "12", "--exact-seeds", "300", "--horizons", "10,100,1000"] + instances)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("27 cells: 0 with the interval above the paper bound, 0 Monte Carlo means off their exact value"))
        #expect(result.stdout.contains("Prop. A.1 holds"))
    }

    /// A bound that cannot hold makes the command fail: alpha0 so small that ALRIGHT barely moves.
    @Test func verifyTheorem41FailsWhenTheBoundIsViolated() throws {
        // With weight decay the constants do not apply: refused with a message naming the file.
        let result = try runCLI(["verify", "theorem41", "--seeds", "2", "--horizons", "10,100",
                                 "--instance", repositoryRoot.appendingPathComponent("Experiments/instances/figure2.json").path])
        #expect(result.status != 0 && result.stderr.contains("figure2.json") && result.stderr.contains("weightDecay 0"))
    }
}

/// Theorem 4.1 from a far start (issue 9 section 3): theta_1 . a = -20 on the lower-bound instance. The check
/// still passes, and the bound is no longer loose there (largest mean / bound >= 0.1, the report's claim); from
/// the default start the same grid stays far below 0.1, so the 0.1 threshold tells the two apart.
@Suite struct FarStartTests {
    static func largestRatio(start: [Double]?) throws -> (ratio: Double, passed: Bool, failed: [String]) {
        let problem = try Problem(try InstanceFile.load(path: TheoremTests.lowerBound))
        var verification = Theorem41Verification()
        verification.lambdas = [0.1, 0.5, 0.9]
        verification.horizons = [10, 100, 1_000]
        // 1000 seeds: with seeds 0..399 one cell (lambda 0.5, T = 10) sits 3.1 standard errors off its exact
        // value, the rare false alarm a 3-SE test allows (with 4000 and 20000 seeds: 0.05 and 0.58).
        verification.exactSeeds = 1_000
        verification.start = start
        let rows = try verification.run(name: "lower-bound", problem: problem)
        let ratio = rows.flatMap(\.cells).map { $0.mean / $0.paperBound }.max() ?? 0
        let verdict = Theorem41Verification.verdict(rows)
        return (ratio, verdict.passed, verdict.failedChecks)
    }

    @Test func farStartMakesTheBoundTight() throws {
        let far = try Self.largestRatio(start: [-10, 10])
        #expect(far.passed && far.ratio >= 0.1, "far start: largest mean / bound \(far.ratio), failed checks \(far.failed)")
        let near = try Self.largestRatio(start: nil)
        #expect(near.passed && near.ratio < 0.1, "default start: largest mean / bound \(near.ratio), failed checks \(near.failed)")
    }
}
