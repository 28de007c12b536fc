import ConvexForgetting
import Foundation
import Testing

/// MAXRIGHT's own target F_lambda = max{lambda (f_DPO - f*_DPO), (1 - lambda)(f_SFT - f*_SFT)} (eq. 15):
/// its exact optimum (`MaxGapSolver`), gap_max, and `MaxrightVerification` with the mutants it must reject.
@Suite struct MaxGapTests {
    static func load(_ name: String) throws -> Problem {
        try Problem(try InstanceFile.load(path: repositoryRoot.appendingPathComponent("Experiments/instances/\(name).json").path))
    }

    /// F_lambda at theta.
    static func largestGap(_ problem: Problem, _ optima: OptimalValues, _ theta: [Double]) -> Double {
        MaxGapOptimum.largestWeightedGap(lambda: optima.lambda, gapDPO: problem.value(.dpo, at: theta) - optima.dpo.value,
                                         gapSFT: problem.value(.sft, at: theta) - optima.sft.value)
    }

    /// Independent of the root search: F_lambda(theta*(w)) over a grid of w, then golden-section search on
    /// the bracketing cell (F_lambda(theta*(w)) = max(non-increasing, non-decreasing) is unimodal in w).
    static func scanFront(_ problem: Problem, _ optima: OptimalValues, points: Int = 101) throws -> (weight: Double, value: Double) {
        let solver = NewtonSolver()
        func f(_ w: Double) throws -> Double {
            largestGap(problem, optima, try solver.minimize(problem, .mix(lambda: w)).theta)
        }
        let grid = (1..<points).map { Double($0) / Double(points) }
        let values = try grid.map(f)
        let k = values.indices.min { values[$0] < values[$1] }!
        var a = k == 0 ? 1e-9 : grid[k - 1], b = k == grid.count - 1 ? 1 - 1e-9 : grid[k + 1]
        let ratio = (5.0.squareRoot() - 1) / 2
        var c = b - ratio * (b - a), d = a + ratio * (b - a)
        var fc = try f(c), fd = try f(d)
        for _ in 0..<60 {
            if fc <= fd { (b, d, fd) = (d, c, fc); c = b - ratio * (b - a); fc = try f(c) }
            else { (a, c, fc) = (c, d, fd); d = a + ratio * (b - a); fd = try f(d) }
        }
        return fc <= fd ? (c, fc) : (d, fd)
    }

    // The exact optimum against a scan of the front, on the lower-bound, random and Figure 2 instances.
    @Test(arguments: ["lower-bound", "random-a", "random-b", "figure2"])
    func maxOptimumMatchesAScanOfTheFront(_ name: String) throws {
        let problem = try Self.load(name)
        for lambda in [0.1, 0.25, 0.5, 0.75, 0.9] {
            let optima = try OptimalValues(problem: problem, lambda: lambda)
            let m = optima.maxGap
            let scan = try Self.scanFront(problem, optima)
            #expect(m.attained && m.meeting == .balanced)
            // The scan can only find larger values (it minimizes over a subset of the same front), up to the
            // accuracy of the losses at the mix solves (about 1e-12)...
            #expect(scan.value >= m.value - 1e-11, "\(name) \(lambda): scan \(scan.value) < \(m.value)")
            // ...and finds the same minimum and weight.
            #expect(close(scan.value, m.value, 1e-9), "\(name) \(lambda): \(scan.value) vs \(m.value)")
            #expect(abs(scan.weight - m.weight) <= 1e-4, "\(name) \(lambda): w \(scan.weight) vs \(m.weight)")
            // The value is F_lambda at the reported theta, which differs from the mix optimum.
            #expect(Self.largestGap(problem, optima, m.theta) == m.value)
            #expect(Self.largestGap(problem, optima, optima.mix.theta) > m.value)
        }
    }

    // Independent of the front: a direct subgradient method on F_lambda (1/sqrt(t) steps, best iterate)
    // never gets below the exact minimum and comes close to it.
    @Test(arguments: ["lower-bound", "random-a"])
    func subgradientMethodDoesNotBeatTheOptimum(_ name: String) throws {
        let problem = try Self.load(name)
        let optima = try OptimalValues(problem: problem, lambda: 0.3)
        var theta = problem.defaultStart
        var best = Double.infinity
        for t in 1...200_000 {
            let gD = 0.3 * (problem.value(.dpo, at: theta) - optima.dpo.value)
            let gS = 0.7 * (problem.value(.sft, at: theta) - optima.sft.value)
            best = min(best, max(gD, gS))
            let g = gD >= gS ? problem.gradient(.dpo, at: theta).map { 0.3 * $0 } : problem.gradient(.sft, at: theta).map { 0.7 * $0 }
            let step = 0.5 / Double(t).squareRoot()
            theta = zip(theta, g).map { $0 - step * $1 }
        }
        #expect(best >= optima.maxGap.value - 1e-12)
        #expect(best - optima.maxGap.value <= 1e-3, "\(name): best \(best) vs \(optima.maxGap.value)")
    }

    // The optimality condition: at theta*(w) both weighted gaps are equal, the mix gradient at w vanishes,
    // and no direction decreases the max (both gaps are active, so the directional derivative of F_lambda
    // along v is max(lambda grad f_DPO . v, (1 - lambda) grad f_SFT . v), which must be >= 0).
    @Test(arguments: ["lower-bound", "random-a", "random-b", "figure2"])
    func optimalityCondition(_ name: String) throws {
        let problem = try Self.load(name)
        var generator = Xoshiro256StarStar(seed: 7, stream: 0)
        for lambda in [0.2, 0.5, 0.8] {
            let optima = try OptimalValues(problem: problem, lambda: lambda)
            let m = optima.maxGap
            #expect(abs(m.weightedGapDPO - m.weightedGapSFT) <= 1e-11 * max(1, m.value))
            #expect(m.gradientNorm <= 1e-9)
            // theta is theta*(w): a fresh mix solve at w reaches the same losses (unique on the minimizer set,
            // a line on the lower-bound instance).
            let direct = try NewtonSolver().minimize(problem, .mix(lambda: m.weight))
            #expect(close(problem.value(.dpo, at: direct.theta), problem.value(.dpo, at: m.theta), 1e-9))
            #expect(close(problem.value(.sft, at: direct.theta), problem.value(.sft, at: m.theta), 1e-9))
            let gD = problem.gradient(.dpo, at: m.theta).map { lambda * $0 }
            let gS = problem.gradient(.sft, at: m.theta).map { (1 - lambda) * $0 }
            for _ in 0..<200 {
                let v = (0..<problem.dimension).map { _ in generator.uniform() * 2 - 1 }
                let derivative = max(zip(gD, v).reduce(0) { $0 + $1.0 * $1.1 }, zip(gS, v).reduce(0) { $0 + $1.0 * $1.1 })
                #expect(derivative >= -1e-9 * norm(v))
                // And a finite step along v does not decrease F_lambda (convexity makes local global).
                let moved = zip(m.theta, v).map { $0 + 1e-3 * $1 }
                #expect(Self.largestGap(problem, optima, moved) >= m.value - 1e-12)
            }
        }
    }

    // lambda = 0 and 1: F is one objective's gap, minimized (value 0) at that objective's optimum; without
    // weight decay the lower-bound instance's f_DPO and f_SFT have no minimizer, so neither has F.
    @Test func endsOfLambda() throws {
        let lowerBound = try Self.load("lower-bound"), figure2 = try figure2Problem()
        for (problem, attained) in [(lowerBound, false), (figure2, true)] {
            let zero = try OptimalValues(problem: problem, lambda: 0).maxGap
            #expect(abs(zero.value) <= 1e-15 && zero.weight == 0 && zero.meeting == .sftEnd && zero.attained == attained)
            let one = try OptimalValues(problem: problem, lambda: 1).maxGap
            #expect(abs(one.value) <= 1e-15 && one.weight == 1 && one.meeting == .dpoEnd && one.attained == attained)
        }
    }

    // A common minimizer: both objectives constant up to weight decay (equal features), so theta = 0 is best
    // for both; F* = 0 there, attained, for every lambda.
    @Test func commonMinimizerIsBalancedAtZero() throws {
        let problem = try Problem(try makeInstance(dpo: [([[0.5, 0.5], [0.5, 0.5]], 0, 1)], sft: [([[0, 1], [0, 1]], 0)],
                                                   weightDecay: 0.1))
        for lambda in [0.2, 0.5, 0.9] {
            let m = try OptimalValues(problem: problem, lambda: lambda).maxGap
            #expect(m.attained && abs(m.value) <= 1e-15 && m.meeting == .balanced && norm(m.theta) <= 1e-12)
        }
    }

    // f*_DPO only an infimum and no minimizer of any mix: one DPO datum (separable) and SFT data that fix
    // theta_1 = 0 only. Every mix decreases for ever along (1, 0), so F has infimum 0 and no minimizer.
    @Test func infimumOnlyIsReportedNotAttained() throws {
        let problem = try Problem(try makeInstance(dpo: [([[1, 0], [0, 0]], 0, 1)],
                                                   sft: [([[0, 1], [0, -1]], 0), ([[0, -1], [0, 1]], 0)]))
        for lambda in [0.25, 0.5] {
            let optima = try OptimalValues(problem: problem, lambda: lambda)
            #expect(!optima.dpo.attained && optima.sft.attained && !optima.mix.attained)
            let m = optima.maxGap
            #expect(!m.attained && m.value >= 0 && m.value <= 1e-9 && m.value.isFinite)
        }
    }

    // gap_max >= 0 along every method's trajectory (up to rounding) and exactly 0 at the optimum.
    @Test func gapMaxIsNonNegativeAndZeroAtTheOptimum() throws {
        for problem in [try Self.load("lower-bound"), try Self.load("random-b"), try figure2Problem()] {
            let optima = try OptimalValues(problem: problem, lambda: 0.3)
            let trainer = Trainer(problem: problem, optima: optima)
            for method in [Method.alright, .maxright, .mix] {
                let spec = RunSpec(method: method, lambda: 0.3, steps: 2_000, schedule: .inverseSqrt(0.5), record: .all)
                _ = trainer.run(spec) { row in #expect(row.gapMax >= -1e-12 * max(1, optima.maxGap.value)) }
            }
            var start = RunSpec(method: .maxright, lambda: 0.3, steps: 1, schedule: .constant(1e-9), record: .all)
            start.start = optima.maxGap.theta
            var rows: [TrajectoryRow] = []
            _ = trainer.run(start) { rows.append($0) }
            #expect(rows[0].gapMax == 0)
            // MAXRIGHT at the optimum stays near it: gap_max after one tiny step is tiny.
            #expect(rows[1].gapMax <= 1e-8)
        }
    }

    // gap_max is written at the end of both CSV schemas (before phase_schedule and wall_seconds in the summary).
    @Test func gapMaxColumnsAreAtTheEnd() {
        let trajectory = RunTable.trajectory(dimension: 2).columns
        #expect(trajectory.suffix(2) == ["f_mix", "gap_max"])
        let summary = RunTable.summary(dimension: 2).columns
        #expect(summary.suffix(5) == ["theta_0", "theta_1", "gap_max", "phase_schedule", "wall_seconds"])
    }

    /// A fast verification for the tests (debug builds): two instances where MAXRIGHT converges quickly.
    static func verification(_ method: MethodUnderTest) -> MaxrightVerification {
        var v = MaxrightVerification()
        v.lambdas = [0.25, 0.75]
        v.horizons = [10, 100, 1_000, 10_000, 100_000]
        v.method = method
        return v
    }

    // The built-in MAXRIGHT (and its rule through the plug-in path) passes; argmin for argmax and unweighted
    // gaps fail.
    @Test(arguments: ["figure2", "random-a"])
    func maxrightVerificationRejectsTheMutants(_ name: String) throws {
        let problem = try Self.load(name)
        for method in [MethodUnderTest.builtIn, Mutants.maxrightThroughRulePath] {
            let rows = try Self.verification(method).run(name: name, problem: problem)
            #expect(MaxrightVerification.verdict(rows).passed, "\(method.name): \(rows.map(\.gaps))")
            // The derived best-iterate bound applies without weight decay only, and holds.
            let decayed = problem.weightDecay > 0
            #expect(rows.allSatisfy { ($0.bounds == nil) == decayed && $0.withinBound })
            if let row = rows.first, let bounds = row.bounds, let best = row.bestGaps {
                // Bound decreasing in T past the first horizons; the best gap never increases with T.
                #expect(bounds.last! < bounds[1] && zip(best, best.dropFirst()).allSatisfy { $0 >= $1 })
            }
        }
        for mutant in [Mutants.argminMaxright, Mutants.unweightedMaxright] {
            let rows = try Self.verification(mutant).run(name: name, problem: problem)
            let verdict = MaxrightVerification.verdict(rows)
            #expect(!verdict.passed && verdict.failures > 0, "\(mutant.name): \(rows.map(\.gaps))")
            // Which check caught it: the tolerance on the final gap_max catches both (neither reaches its target).
            #expect(MaxrightVerification.failedChecks(rows).contains("tolerance"), "\(mutant.name): \(MaxrightVerification.failedChecks(rows))")
        }
        #expect(MaxrightVerification.failedChecks(try Self.verification(.builtIn).run(name: name, problem: problem)).isEmpty)
    }

    @Test func maxrightVerificationRefusesBadParameters() {
        var v = MaxrightVerification()
        v.lambdas = [0]
        #expect(throws: ArgumentError("lambdas", "must lie in (0, 1)")) { try v.validate() }
        v = MaxrightVerification()
        v.horizons = [100]
        #expect(throws: ArgumentError.self) { try v.validate() }
        v = MaxrightVerification()
        v.tolerance = .nan
        #expect(throws: ArgumentError.self) { try v.validate() }
    }
}
