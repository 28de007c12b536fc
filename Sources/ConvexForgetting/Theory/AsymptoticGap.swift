import Foundation

/// The sharp asymptotic form of ALRIGHT's expected last-iterate gap (THEORY.md section 3.2). Near
/// theta* = argmin f_mix,lambda, with H = hess f_mix(theta*) and Sigma the covariance of ALRIGHT's
/// stochastic gradient at theta*, SGD with step alpha has E[G] -> (alpha / 4) tr(Sigma), and with
/// alpha_t = alpha0 / sqrt(t) the gap at T tracks alpha_T tr(Sigma) / 4 once the start-up transient has died
/// out. Sigma at theta* (where lambda g_D + (1 - lambda) g_S = 0):
///
///     full batch:  Sigma = lambda (1 - lambda) (g_D - g_S)(g_D - g_S)^T
///     batch b:     Sigma = lambda (g_D g_D^T + C_D / b) + (1 - lambda)(g_S g_S^T + C_S / b)
///
/// with g_D, g_S the full gradients and C_D, C_S the covariances of the per-datum gradients (sampling with
/// replacement). The relative lag of the variance behind its moving stationary value is, mode by mode
/// (eigenpairs h_k, e_k of H, sigma_k^2 = e_k^T Sigma e_k),
///
///     epsilon(T) = sum_k sigma_k^2 (1 / (4 h_k alpha0 sqrt(T)) + alpha_T h_k / 2) / sum_k sigma_k^2.
public struct AsymptoticGap: Sendable {
    /// tr(Sigma).
    public let traceSigma: Double
    /// (h_k, sigma_k^2) for the modes that carry noise.
    public let modes: [(curvature: Double, noise: Double)]

    public init(problem: Problem, lambda: Double, optimum: Optimum, batch: Int? = nil) throws {
        let d = problem.dimension
        let theta = optimum.theta
        let gD = problem.gradient(.dpo, at: theta), gS = problem.gradient(.sft, at: theta)
        var sigma = [Double](repeating: 0, count: d * d)
        if let b = batch {
            func add(_ objective: Objective, _ weight: Double, _ mean: [Double]) {
                let n = problem.dataCount(objective)
                for i in 0..<n {
                    let g = problem.datumGradient(objective, datum: i, at: theta).gradient
                    for r in 0..<d { for c in 0..<d { sigma[r * d + c] += weight / Double(b * n) * (g[r] - mean[r]) * (g[c] - mean[c]) } }
                }
                for r in 0..<d { for c in 0..<d { sigma[r * d + c] += weight * mean[r] * mean[c] } }
            }
            add(.dpo, lambda, gD)
            add(.sft, 1 - lambda, gS)
        } else {
            let v = zip(gD, gS).map { $0 - $1 }
            for r in 0..<d { for c in 0..<d { sigma[r * d + c] = lambda * (1 - lambda) * v[r] * v[c] } }
        }
        traceSigma = (0..<d).reduce(0) { $0 + sigma[$1 * d + $1] }
        let (values, vectors) = try LinearAlgebra.symmetricEigen(problem.hessian(.mix(lambda: lambda), at: theta), n: d)
        var modes: [(Double, Double)] = []
        for k in 0..<d {
            var noise = 0.0
            for r in 0..<d { for c in 0..<d { noise += vectors[r * d + k] * sigma[r * d + c] * vectors[c * d + k] } }
            if noise > 1e-14 * max(traceSigma, 1e-300) { modes.append((values[k], noise)) }
        }
        self.modes = modes
    }

    /// alpha tr(Sigma) / 4.
    public func prediction(stepSize alpha: Double) -> Double { alpha * traceSigma / 4 }

    /// epsilon(T) for alpha_t = alpha0 / sqrt(t); infinite when a noisy mode has no curvature.
    public func lag(horizon T: Int, alpha0: Double) -> Double {
        let total = modes.reduce(0) { $0 + $1.noise }
        guard total > 0 else { return 0 }
        let alphaT = alpha0 / Double(T).squareRoot()
        var sum = 0.0
        for (h, noise) in modes {
            guard h > 0 else { return .infinity }
            sum += noise * (1 / (4 * h * alpha0 * Double(T).squareRoot()) + alphaT * h / 2)
        }
        return sum / total
    }
}
