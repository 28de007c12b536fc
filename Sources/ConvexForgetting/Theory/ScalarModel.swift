import Foundation

/// An instance whose objectives depend on theta only through one linear form s = theta . u (THEORY.md
/// section 5.1): every DPO difference dphi_i = c_i u and every SFT feature difference
/// phi_ij - phi_{i,y_i} = e_ij u for one unit vector u, and no weight decay. Then
///
///     f_DPO(s) = (1/N) sum_i softplus(-beta (c_i s - m_i)),      m_i = theta_ref . dphi_i
///     f_SFT(s) = (1/M) sum_i logsumexp_j(e_ij s)                  (e_{i,y_i} = 0)
///
/// and a gradient step on theta moves it along u only: s <- s - alpha f'(s). Every method becomes a
/// Markov chain on the scalar s (`ExactExpectation`). The lower-bound construction is such an instance.
public struct ScalarModel: Sendable {
    /// The unit vector u.
    public let direction: [Double]
    public let beta: Double
    /// c_i and m_i of the DPO data.
    public let dpoScale: [Double]
    public let dpoMargin: [Double]
    /// e_ij of the SFT data, datum i's outputs at sftOffsets[i] ..< sftOffsets[i + 1].
    public let sftScale: [Double]
    public let sftOffsets: [Int]

    public struct NotOneDimensional: Error, CustomStringConvertible {
        public var description: String
    }

    public init(problem: Problem) throws(NotOneDimensional) {
        let d = problem.dimension
        guard problem.weightDecay == 0 else {
            throw NotOneDimensional(description: "has weightDecay \(problem.weightDecay); the exact law needs 0 (weight decay acts on all of theta)")
        }
        // Every difference vector, named for the error message.
        var vectors: [(name: String, vector: [Double])] = []
        for i in 0..<problem.dpo.count {
            vectors.append(("dpo[\(i)]", Array(problem.dpo.differences[(i * d)..<((i + 1) * d)])))
        }
        let table = problem.sft.features
        for i in 0..<table.count {
            let y = Array(table.feature(i, problem.sft.targets[i]))
            for j in 0..<table.outputCount(i) where j != problem.sft.targets[i] {
                vectors.append(("sft[\(i)] output \(j)", zip(table.feature(i, j), y).map { $0 - $1 }))
            }
        }
        func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        guard let longest = vectors.max(by: { norm($0.vector) < norm($1.vector) }), norm(longest.vector) > 0 else {
            throw NotOneDimensional(description: "has no feature differences: both objectives are constant")
        }
        let scale = norm(longest.vector)
        let u = longest.vector.map { $0 / scale }
        var coefficients: [Double] = []
        for (name, v) in vectors {
            let c = zip(v, u).reduce(0) { $0 + $1.0 * $1.1 }
            let residual = norm(zip(v, u).map { $0 - c * $1 })
            guard residual <= 1e-12 * max(1, scale) else {
                throw NotOneDimensional(description: "is not one-dimensional: the difference of \(name) is not a multiple of that of \(longest.name) (residual \(residual)); the exact law needs every DPO difference and SFT feature difference on one line")
            }
            coefficients.append(c)
        }
        direction = u
        beta = problem.beta
        dpoScale = Array(coefficients[0..<problem.dpo.count])
        dpoMargin = problem.dpo.referenceMargins
        var sft: [Double] = [], offsets = [0]
        var next = problem.dpo.count
        for i in 0..<table.count {
            for j in 0..<table.outputCount(i) {
                if j == problem.sft.targets[i] { sft.append(0) } else { sft.append(coefficients[next]); next += 1 }
            }
            offsets.append(sft.count)
        }
        sftScale = sft
        sftOffsets = offsets
    }

    public var dpoCount: Int { dpoScale.count }
    public var sftCount: Int { sftOffsets.count - 1 }

    /// s = theta . u.
    public func margin(_ theta: [Double]) -> Double { zip(theta, direction).reduce(0) { $0 + $1.0 * $1.1 } }

    /// Datum i's DPO loss and its derivative in s.
    @inline(__always)
    public func dpo(_ i: Int, _ s: Double) -> (loss: Double, slope: Double) {
        let term = Stable.LogisticTerm(margin: beta * (dpoScale[i] * s - dpoMargin[i]))
        return (term.loss, -beta * dpoScale[i] * term.sigmoidOfMinusMargin)
    }

    /// Datum i's DPO derivative in s only (one exponential).
    @inline(__always)
    public func dpoSlope(_ i: Int, _ s: Double) -> Double {
        -beta * dpoScale[i] * Stable.sigmoid(-beta * (dpoScale[i] * s - dpoMargin[i]))
    }

    /// Datum i's SFT loss logsumexp_j(e_ij s) and its derivative sum_j p_j e_ij.
    @inline(__always)
    public func sft(_ i: Int, _ s: Double) -> (loss: Double, slope: Double) {
        let lo = sftOffsets[i], hi = sftOffsets[i + 1]
        var largest = -Double.infinity
        for k in lo..<hi { largest = max(largest, sftScale[k] * s) }
        var sum = 0.0, weighted = 0.0
        for k in lo..<hi {
            let e = exp(sftScale[k] * s - largest)
            sum += e
            weighted += e * sftScale[k]
        }
        return (largest + log(sum), weighted / sum)
    }

    /// Adds sum_i w_i f'_DPO,i(s_k) + sum_j w_j f'_SFT,j(s_k) to slopes[k] for every k: the slope of one
    /// batch at every atom of a law.
    public func addSlopes(dpo dpoWeights: [(Int, Double)], sft sftWeights: [(Int, Double)], at positions: [Double], into slopes: inout [Double]) {
        let n = positions.count
        positions.withUnsafeBufferPointer { s in
            slopes.withUnsafeMutableBufferPointer { out in
                for (i, w) in dpoWeights {
                    let c = dpoScale[i], margin = dpoMargin[i], b = beta
                    for k in 0..<n { out[k] -= w * b * c * Stable.sigmoid(-b * (c * s[k] - margin)) }
                }
                for (i, w) in sftWeights {
                    let lo = sftOffsets[i], hi = sftOffsets[i + 1]
                    if hi - lo == 2 {
                        // Two outputs: p_1 e_1 + p_0 e_0 = e_0 + (e_1 - e_0) sigma((e_1 - e_0) s).
                        let e0 = sftScale[lo], e1 = sftScale[lo + 1]
                        for k in 0..<n { out[k] += w * (e0 + (e1 - e0) * Stable.sigmoid((e1 - e0) * s[k])) }
                    } else {
                        for k in 0..<n { out[k] += w * self.sft(i, s[k]).slope }
                    }
                }
            }
        }
    }

    /// f_DPO or f_SFT at s (means over the data).
    public func loss(_ objective: Objective, _ s: Double) -> Double {
        switch objective {
        case .dpo: return (0..<dpoCount).reduce(0) { $0 + dpo($1, s).loss } / Double(dpoCount)
        case .sft: return (0..<sftCount).reduce(0) { $0 + sft($1, s).loss } / Double(sftCount)
        case .mix(let lambda): return lambda * loss(.dpo, s) + (1 - lambda) * loss(.sft, s)
        }
    }

    /// A bound L on every datum's second derivative in s: beta^2 c_i^2 / 4 for DPO, (max_j e_ij - min_j e_ij)^2 / 4
    /// for SFT (the variance of a variable in an interval). A step s - alpha f'(s) is non-decreasing in s when alpha L <= 1.
    public var curvatureBound: Double {
        var l = dpoScale.reduce(0) { max($0, beta * beta * $1 * $1 / 4) }
        for i in 0..<sftCount {
            let values = sftScale[sftOffsets[i]..<sftOffsets[i + 1]]
            l = max(l, pow(values.max()! - values.min()!, 2) / 4)
        }
        return l
    }

    /// A bound on every datum's |derivative| in s: beta |c_i| for DPO, max_j |e_ij| for SFT.
    public var slopeBound: Double {
        max(dpoScale.reduce(0) { max($0, beta * abs($1)) }, sftScale.reduce(0) { max($0, abs($1)) })
    }
}
