import ConvexForgetting
import Foundation
import PropertyBased
import Testing

/// Property-based tests over random bounded-feature instances: several dimensions, output counts, data
/// counts, betas, feature bounds, with and without weight decay (see `randomSpec`).
@Suite struct PropertyTests {
    static let dimensions = Gen.int(in: 1...6)
    static let outputs = Gen.int(in: 2...5)
    static let counts = Gen.int(in: 1...8)
    static let betas = Gen.double(in: 0.05...3)
    static let seeds = Gen.int(in: 0...1_000_000)

    /// Random points around theta_ref (the same sampler `forgetting check` uses).
    func points(_ problem: Problem, seed: Int, count: Int = 4) -> [[Double]] {
        ClaimChecks(points: count, seed: UInt64(seed)).samplePoints(problem)
    }

    @Test func everyClaimOfCheckHolds() async throws {
        await propertyCheck(count: 40, input: Self.dimensions, Self.outputs, Self.counts, Self.betas, Self.seeds) { d, k, n, beta, seed in
            let problem = try Problem(try Instance.random(randomSpec(dimension: d, outputs: k, count: n, beta: beta, seed: seed)))
            let results = try ClaimChecks(points: 4, seed: UInt64(seed), lambda: 0.3).run(problem)
            for result in results {
                #expect(result.passed, "\(result.claim): worst \(result.worst) vs \(result.comparison) \(result.limit) at \(result.location)")
            }
        }
    }

    @Test func hessiansArePositiveSemidefinite() async throws {
        await propertyCheck(count: 60, input: Self.dimensions, Self.outputs, Self.counts, Self.betas, Self.seeds) { d, k, n, beta, seed in
            let problem = try Problem(try Instance.random(randomSpec(dimension: d, outputs: k, count: n, beta: beta, seed: seed)))
            for theta in points(problem, seed: seed) {
                for objective in [Objective.dpo, .sft, .mix(lambda: 0.7)] {
                    let h = problem.hessian(objective, at: theta)
                    let smallest = try LinearAlgebra.minimumEigenvalue(h, n: d)
                    // mu I is part of the Hessian, so its smallest eigenvalue is at least mu (up to rounding).
                    #expect(smallest >= problem.weightDecay - 1e-12 * max(1, pow(problem.featureBound, 2) * max(1, beta * beta)))
                }
            }
        }
    }

    @Test func convexityInequalityHolds() async throws {
        await propertyCheck(count: 60, input: Self.dimensions, Self.outputs, Self.counts, Self.betas, Self.seeds) { d, k, n, beta, seed in
            let problem = try Problem(try Instance.random(randomSpec(dimension: d, outputs: k, count: n, beta: beta, seed: seed)))
            let thetas = points(problem, seed: seed)
            for (x, y) in zip(thetas, thetas.dropFirst()) {
                for objective in [Objective.dpo, .sft, .mix(lambda: 0.5)] {
                    let (fx, gx) = problem.valueAndGradient(objective, at: x)
                    let fy = problem.value(objective, at: y)
                    let linear = fx + zip(gx, zip(y, x)).reduce(0) { $0 + $1.0 * ($1.1.0 - $1.1.1) }
                    #expect(fy >= linear - 1e-12 * max(1, abs(fy)))
                    // Midpoint convexity too.
                    let mid = zip(x, y).map { ($0 + $1) / 2 }
                    #expect(problem.value(objective, at: mid) <= (fx + fy) / 2 + 1e-12 * max(1, abs(fx)))
                }
            }
        }
    }

    @Test func perDatumGradientBounds() async throws {
        await propertyCheck(count: 60, input: Self.dimensions, Self.outputs, Self.counts, Self.betas, Self.seeds) { d, k, n, beta, seed in
            let problem = try Problem(try Instance.random(randomSpec(dimension: d, outputs: k, count: n, beta: beta, seed: seed)))
            // Far points too: the bounds hold for every theta.
            for theta in points(problem, seed: seed) + [[Double](repeating: 50, count: d)] {
                for i in 0..<problem.dpo.count {
                    let g = problem.datumGradient(.dpo, datum: i, at: theta).gradient
                    #expect(norm(g) <= 2 * beta * problem.featureBound * (1 + 1e-12))
                }
                for i in 0..<problem.sft.count {
                    let g = problem.datumGradient(.sft, datum: i, at: theta).gradient
                    #expect(norm(g) <= 2 * problem.featureBound * (1 + 1e-12))
                }
            }
        }
    }

    @Test func derivativesMatchFiniteDifferences() async throws {
        await propertyCheck(count: 40, input: Self.dimensions, Self.outputs, Self.counts, Self.betas, Self.seeds) { d, k, n, beta, seed in
            let problem = try Problem(try Instance.random(randomSpec(dimension: d, outputs: k, count: n, beta: beta, seed: seed)))
            for theta in points(problem, seed: seed, count: 2) {
                for objective in [Objective.dpo, .sft, .mix(lambda: 0.4)] {
                    let (_, g) = problem.valueAndGradient(objective, at: theta)
                    let h = problem.hessian(objective, at: theta)
                    for c in 0..<d {
                        let step = 1e-5
                        var plus = theta, minus = theta
                        plus[c] += step
                        minus[c] -= step
                        let (fp, gp) = problem.valueAndGradient(objective, at: plus)
                        let (fm, gm) = problem.valueAndGradient(objective, at: minus)
                        #expect(abs((fp - fm) / (2 * step) - g[c]) <= 1e-7 * (1 + abs(g[c])))
                        for r in 0..<d {
                            #expect(abs((gp[r] - gm[r]) / (2 * step) - h[r * d + c]) <= 1e-7 * (1 + abs(h[r * d + c])))
                        }
                    }
                }
            }
        }
    }

    /// The normalizers cancel in eq. (1): changing the features of outputs other than the chosen and the
    /// rejected one leaves f_DPO (and its gradient) unchanged.
    @Test func dpoLossIgnoresOtherOutputs() async throws {
        await propertyCheck(count: 40, input: Self.dimensions, Gen.int(in: 3...6), Self.counts, Self.betas, Self.seeds) { d, k, n, beta, seed in
            let instance = try Instance.random(randomSpec(dimension: d, outputs: k, count: n, beta: beta, seed: seed))
            var rng = Xoshiro256StarStar(seed: UInt64(seed), stream: 7)
            var values = instance.dpoFeatures.values
            for i in 0..<instance.dpoFeatures.count {
                for j in 0..<k where j != instance.chosen[i] && j != instance.rejected[i] {
                    for c in 0..<d {  // a new vector of norm <= Phi / sqrt(d) * sqrt(d) = Phi
                        values[(i * k + j) * d + c] = instance.featureBound / Double(d).squareRoot() * (2 * rng.uniform() - 1)
                    }
                }
            }
            let changed = try instance.with(dpoFeatures: FeatureBlocks(dimension: d, offsets: instance.dpoFeatures.offsets, values: values))
            #expect(changed.dpoFeatures != instance.dpoFeatures)
            let a = try Problem(instance), b = try Problem(changed)
            for theta in points(a, seed: seed) {
                #expect(a.value(.dpo, at: theta) == b.value(.dpo, at: theta))
                #expect(a.gradient(.dpo, at: theta) == b.gradient(.dpo, at: theta))
            }
        }
    }

    /// The Newton optimum is no worse than any sampled point and stationary when attained.
    @Test func newtonOptimumIsOptimal() async throws {
        await propertyCheck(count: 40, input: Self.dimensions, Self.outputs, Self.counts, Self.betas, Self.seeds) { d, k, n, beta, seed in
            let problem = try Problem(try Instance.random(randomSpec(dimension: d, outputs: k, count: n, beta: beta, seed: seed)))
            let scale = max(1, problem.featureBound * max(1, beta))
            for objective in [Objective.dpo, .sft, .mix(lambda: 0.5)] {
                let optimum = try NewtonSolver().minimize(problem, objective)
                #expect(optimum.value.isFinite)
                if optimum.attained {
                    #expect(optimum.gradientNorm <= 1e-9 * scale, "\(objective): gradient norm \(optimum.gradientNorm)")
                } else {
                    #expect(problem.weightDecay == 0)
                }
                for theta in points(problem, seed: seed, count: 8) {
                    #expect(optimum.value <= problem.value(objective, at: theta) + 1e-12)
                }
            }
        }
    }
}
