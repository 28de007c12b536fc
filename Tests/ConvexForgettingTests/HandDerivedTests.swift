import ConvexForgetting
import Foundation
import Testing

/// Values derived by hand on tiny instances (two outputs, d = 1 and 2), checked to 1e-12.
@Suite struct HandDerivedTests {
    // d = 1, DPO: phi_w = 1, phi_l = 0 so dphi = 1; beta = 0.5, theta_ref = 0.2, theta = 1:
    // z = 0.5 (1 - 0.2) = 0.4, f = log(1 + e^{-0.4}), f' = -0.5 sigma(-0.4), f'' = 0.25 sigma(0.4) sigma(-0.4).
    @Test func dpoOneDimensional() throws {
        let problem = try Problem(try makeInstance(dpo: [([[1], [0]], 0, 1)], sft: [([[1], [-1]], 0)], thetaRef: [0.2]))
        let s = 1 / (1 + exp(0.4))  // sigma(-0.4)
        #expect(close(problem.value(.dpo, at: [1]), log(1 + exp(-0.4))))
        #expect(close(problem.gradient(.dpo, at: [1])[0], -0.5 * s))
        #expect(close(problem.hessian(.dpo, at: [1])[0], 0.25 * s * (1 - s)))
    }

    // d = 1, SFT: phi_0 = 1, phi_1 = -1, target 0, theta = 0.3: logits 0.3, -0.3, so
    // f = log(1 + e^{-0.6}), f' = E phi - phi_0 = (p0 - p1) - 1 = -2 p1, f'' = Var phi = 4 p0 p1, p1 = sigma(-0.6).
    @Test func sftOneDimensional() throws {
        let problem = try Problem(try makeInstance(dpo: [([[1], [0]], 0, 1)], sft: [([[1], [-1]], 0)]))
        let p1 = 1 / (1 + exp(0.6))
        #expect(close(problem.value(.sft, at: [0.3]), log(1 + exp(-0.6))))
        #expect(close(problem.gradient(.sft, at: [0.3])[0], -2 * p1))
        #expect(close(problem.hessian(.sft, at: [0.3])[0], 4 * (1 - p1) * p1))
    }

    // d = 2 with weight decay mu = 0.3 and the mix at lambda = 0.25:
    // DPO dphi = (1, -1), beta = 1, theta_ref = 0, theta = (0.5, 0.25): z = 0.25.
    // SFT phi_0 = (0, 1), phi_1 = (1, 0), target 0: logits 0.25, 0.5; f_SFT = log(1 + e^{0.25}).
    @Test func twoDimensionalMixWithWeightDecay() throws {
        let instance = try makeInstance(dpo: [([[1, 0], [0, 1]], 0, 1)], sft: [([[0, 1], [1, 0]], 0)], beta: 1,
                                        weightDecay: 0.3)
        let problem = try Problem(instance)
        let theta = [0.5, 0.25]
        let decay = 0.5 * 0.3 * (0.25 + 0.0625)
        let fDPO = log(1 + exp(-0.25)) + decay
        let fSFT = log(1 + exp(0.25)) + decay
        #expect(close(problem.value(.dpo, at: theta), fDPO))
        #expect(close(problem.value(.sft, at: theta), fSFT))
        #expect(close(problem.value(.mix(lambda: 0.25), at: theta), 0.25 * fDPO + 0.75 * fSFT))
        // grad f_SFT = p1 (phi_1 - phi_0) + mu theta with p1 = sigma(0.25); Hessian p0 p1 (1,-1)(1,-1)^T + mu I.
        let p1 = 1 / (1 + exp(-0.25))
        let g = problem.gradient(.sft, at: theta)
        #expect(close(g[0], p1 + 0.3 * 0.5) && close(g[1], -p1 + 0.3 * 0.25))
        let h = problem.hessian(.sft, at: theta)
        let c = p1 * (1 - p1)
        #expect(close(h[0], c + 0.3) && close(h[1], -c) && close(h[2], -c) && close(h[3], c + 0.3))
        // The eigenvalues of that Hessian are mu and 2c + mu.
        let eigenvalues = try LinearAlgebra.symmetricEigenvalues(h, n: 2)
        #expect(close(eigenvalues[0], 0.3) && close(eigenvalues[1], 2 * c + 0.3))
    }

    // Opposite pulls: SFT wants theta > 0 (phi = +-1, target +1), DPO with beta = 1 prefers the output
    // with feature -1. f_mix,1/2 = (softplus(-2 theta) + softplus(2 theta)) / 2, minimized at 0 with value log 2.
    @Test func mixOptimumOfOppositePulls() throws {
        let problem = try Problem(try makeInstance(dpo: [([[-1], [1]], 0, 1)], sft: [([[1], [-1]], 0)], beta: 1))
        let optimum = try NewtonSolver().minimize(problem, .mix(lambda: 0.5), from: [3])
        #expect(optimum.attained)
        #expect(abs(optimum.theta[0]) <= 1e-12)
        #expect(close(optimum.value, log(2)))
        #expect(optimum.gradientNorm <= 1e-9)
    }

    // One DPO datum alone is separable: inf f_DPO = 0 with no minimizer.
    @Test func separableDPOIsNotAttained() throws {
        let problem = try Problem(try makeInstance(dpo: [([[1, 0], [0, 1]], 0, 1)], sft: [([[0, 1], [1, 0]], 0)]))
        let optimum = try NewtonSolver().minimize(problem, .dpo)
        #expect(!optimum.attained)
        #expect(optimum.value >= 0 && optimum.value <= 1e-12)
        #expect(optimum.iterations < NewtonSolver().maxIterations)
        // The same objective with weight decay has a minimizer.
        let decayed = try Problem(try makeInstance(dpo: [([[1, 0], [0, 1]], 0, 1)], sft: [([[0, 1], [1, 0]], 0)],
                                               weightDecay: 0.1))
        let withDecay = try NewtonSolver().minimize(decayed, .dpo)
        #expect(withDecay.attained && withDecay.gradientNorm <= 1e-9)
    }

    // Stability: |theta . phi| = 1e6 gives finite values equal to their asymptotes.
    @Test func extremeMarginsStayFinite() throws {
        let problem = try Problem(try makeInstance(dpo: [([[1], [0]], 0, 1)], sft: [([[1], [-1]], 0)], beta: 1))
        for theta in [1e6, -1e6] {
            let (f, g) = problem.valueAndGradient(.mix(lambda: 0.5), at: [theta])
            let h = problem.hessian(.mix(lambda: 0.5), at: [theta])
            #expect(f.isFinite && g[0].isFinite && h[0].isFinite)
        }
        // softplus(-z) ~ -z for z = -1e6; -log p = 2e6 for theta = -1e6 (logit gap 2e6).
        #expect(close(problem.value(.dpo, at: [-1e6]), 1e6))
        #expect(close(problem.value(.sft, at: [-1e6]), 2e6))
        #expect(problem.value(.dpo, at: [1e6]) == 0)
        #expect(close(problem.gradient(.sft, at: [-1e6])[0], -2))
    }

    // The reference fit is gradient descent on -log pi(chosen): one step from 0 with rate 0.1 on
    // phi_w = 1, phi_l = -1 moves theta_ref to 0.1 * (1 - E phi) = 0.1.
    @Test func referenceFitIsGradientDescentOnTheChosenOutputs() throws {
        var instance = try makeInstance(dpo: [([[1], [-1]], 0, 1)], sft: [([[1], [-1]], 0)])
        instance = try instance.with(reference: .fit(initial: [0], learningRate: 0.1, steps: 1))
        #expect(close(try Problem(instance).thetaRef[0], 0.1))
        instance = try instance.with(reference: .fit(initial: [0], learningRate: 0.1, steps: 2))
        // Second step: gradient at 0.1 is -(1 - tanh(0.1)) (E phi = tanh(theta) for phi = +-1).
        #expect(close(try Problem(instance).thetaRef[0], 0.1 + 0.1 * (1 - tanh(0.1))))
    }

    @Test func stableFunctions() {
        #expect(Stable.softplus(800) == 800)
        #expect(Stable.softplus(-800) >= 0 && Stable.softplus(-800) < 1e-300)
        #expect(close(Stable.softplus(0), log(2)))
        #expect(Stable.sigmoid(-800) >= 0 && Stable.sigmoid(800) == 1)
        #expect(close(Stable.sigmoid(0.3) + Stable.sigmoid(-0.3), 1))
        let v = [1000.0, 1000.0]
        #expect(close(v.withUnsafeBufferPointer { Stable.logSumExp($0) }, 1000 + log(2)))
    }
}

/// Large instances evaluate full-batch SFT in fixed slices on all cores: the result must match the plain
/// per-datum sum.
@Suite struct SlicedEvaluationTests {
    @Test func slicedSFTMatchesThePerDatumSum() throws {
        let instance = try Instance.random(RandomInstanceSpec(dimension: 64, outputs: 8, dpoCount: 1, sftCount: 2100, seed: 4))
        #expect(instance.sftFeatures.values.count >= SFTLoss.parallelThreshold)
        let problem = try Problem(instance)
        var rng = Xoshiro256StarStar(seed: 9)
        let theta = (0..<64).map { _ in 0.3 * rng.gaussian() }
        let (value, gradient) = problem.valueAndGradient(.sft, at: theta)
        var expectedValue = 0.0
        var expected = [Double](repeating: 0, count: 64)
        for i in 0..<2100 {
            let (loss, g) = problem.datumGradient(.sft, datum: i, at: theta)
            expectedValue += loss / 2100
            for k in 0..<64 { expected[k] += g[k] / 2100 }
        }
        #expect(close(value, expectedValue, 1e-12))
        for k in 0..<64 { #expect(abs(gradient[k] - expected[k]) <= 1e-13) }
        // The same again: fixed slices, identical bits.
        #expect(problem.valueAndGradient(.sft, at: theta).gradient == gradient)
    }
}
