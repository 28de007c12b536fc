/// Whether the infimum of an objective without weight decay is attained, decided exactly (up to a
/// tolerance) by linear programming rather than by watching an optimizer run.
///
/// Every loss term is non-increasing along a direction v exactly when certain linear forms a_k . v are
/// >= 0: a_k = dphi_i for a DPO datum (its margin grows), a_k = phi_{i,y_i} - phi_{i,j} (j != y_i) for an
/// SFT datum (the target's logit gains on output j). The infimum is not attained exactly when some v has
/// all a_k . v >= 0 and one > 0 (the loss decreases for ever along v); otherwise the objective is coercive
/// on the complement of its lineality space and has a minimizer. By Stiemke's theorem of the alternative
/// the infimum is attained if and only if some y > 0 has sum_k y_k a_k = 0; scaling y, if and only if
/// {u >= 0 : A^T u = -A^T 1} is non-empty. `isAttained` runs phase 1 of the simplex method on that system:
/// d equality rows, one column per linear form.
///
/// With weight decay mu > 0 every objective is strongly convex and the minimum is always attained.
public enum Attainment {
    /// The simplex method made `pivots` pivots without reaching phase 1's optimum: the LP is left
    /// undecided, which is an error, never a silent "not attained".
    public struct PivotLimitReached: Error, CustomStringConvertible {
        public var pivots: Int
        public var description: String {
            "the attainment LP reached its pivot limit (\(pivots) pivots) undecided; the instance may be badly scaled"
        }
    }

    /// The linear forms a_k of `objective`, `count x dimension` row-major (terms with weight 0 omitted).
    static func linearForms(_ problem: Problem, _ objective: Objective) -> (forms: [Double], count: Int) {
        let d = problem.dimension
        let (a, b) = objective.weights
        var forms: [Double] = []
        var count = 0
        if a > 0 {
            forms += problem.dpo.differences
            count += problem.dpo.count
        }
        if b > 0 {
            let table = problem.sft.features
            for i in 0..<table.count {
                let target = table.feature(i, problem.sft.targets[i])
                for j in 0..<table.outputCount(i) where j != problem.sft.targets[i] {
                    let other = table.feature(i, j)
                    for c in 0..<d { forms.append(target[target.startIndex + c] - other[other.startIndex + c]) }
                    count += 1
                }
            }
        }
        return (forms, count)
    }

    /// True when `objective` has a finite minimizer. `pivotLimit` bounds the simplex pivots (default
    /// 50 (m + d + 10)); reaching it throws.
    ///
    /// With `gram`, the LP is posed on the m x m Gram matrix G = A A^T instead of A^T (d rows): A^T u = c
    /// with c = -A^T 1 in the row space of A holds exactly when G u = A c (a difference in the row space
    /// that A maps to 0 is 0), so the answer is the same with m rows instead of d: the form for large d.
    public static func isAttained(_ problem: Problem, _ objective: Objective, pivotLimit: Int? = nil,
                                  gram: Bool = false) throws(PivotLimitReached) -> Bool {
        if problem.weightDecay > 0 { return true }
        var d = problem.dimension
        var (forms, m) = linearForms(problem, objective)
        if gram {
            var g = [Double](repeating: 0, count: m * m)
            forms.withUnsafeBufferPointer { fp in
                let f = fp.baseAddress!
                for i in 0..<m {
                    for j in i..<m {
                        let v = Kernels.dot(f + i * d, f + j * d, d)
                        g[i * m + j] = v
                        g[j * m + i] = v
                    }
                }
            }
            forms = g
            d = m
        }
        // Right-hand side c = -A^T 1.
        var rhs = [Double](repeating: 0, count: d)
        var largest = 0.0
        for k in 0..<m {
            for c in 0..<d {
                rhs[c] -= forms[k * d + c]
                largest = max(largest, abs(forms[k * d + c]))
            }
        }
        if largest == 0 { return true }  // every term is constant
        return try phaseOneFeasible(forms: forms, count: m, dimension: d, rhs: rhs, scale: largest, pivotLimit: pivotLimit)
    }

    /// Simplex phase 1 for {u >= 0 : B u = rhs}, B = forms^T (d x m). Dense tableau, Dantzig's rule with
    /// Bland's rule after degenerate pivots (no cycling).
    static func phaseOneFeasible(forms: [Double], count m: Int, dimension d: Int, rhs: [Double], scale: Double,
                                 pivotLimit: Int?) throws(PivotLimitReached) -> Bool {
        let columns = m + d  // u, then one artificial per row
        let width = columns + 1
        var t = [Double](repeating: 0, count: d * width)
        var basis = [Int](repeating: 0, count: d)
        for r in 0..<d {
            let sign: Double = rhs[r] < 0 ? -1 : 1
            for k in 0..<m { t[r * width + k] = sign * forms[k * d + r] }
            t[r * width + m + r] = 1
            t[r * width + columns] = sign * rhs[r]
            basis[r] = m + r
        }
        // Reduced costs of the phase-1 objective sum of artificials: -(sum of rows) on u columns.
        var cost = [Double](repeating: 0, count: width)
        for r in 0..<d {
            for k in 0..<m { cost[k] -= t[r * width + k] }
            cost[columns] -= t[r * width + columns]
        }
        let eps = 1e-11 * scale
        var degenerate = 0
        let maxPivots = max(0, pivotLimit ?? 50 * (columns + 10))
        var pivots = 0
        while true {
            // Entering column.
            var entering = -1
            if degenerate < 50 {
                var best = -eps
                for k in 0..<columns where cost[k] < best {
                    best = cost[k]
                    entering = k
                }
            } else {
                entering = (0..<columns).first { cost[$0] < -eps } ?? -1
            }
            if entering < 0 { break }  // phase 1's optimum
            // Ratio test.
            var leaving = -1
            var bestRatio = Double.infinity
            for r in 0..<d {
                let a = t[r * width + entering]
                if a > eps {
                    let ratio = t[r * width + columns] / a
                    if ratio < bestRatio - 1e-15 || (abs(ratio - bestRatio) <= 1e-15 && leaving >= 0 && basis[r] < basis[leaving]) {
                        bestRatio = ratio
                        leaving = r
                    }
                }
            }
            if leaving < 0 { break }  // unbounded direction: cannot happen in phase 1 (objective >= 0)
            degenerate = bestRatio <= 1e-15 ? degenerate + 1 : 0
            guard pivots < maxPivots else { throw PivotLimitReached(pivots: pivots) }
            pivots += 1
            // Pivot.
            let p = t[leaving * width + entering]
            for c in 0..<width { t[leaving * width + c] /= p }
            for r in 0..<d where r != leaving {
                let f = t[r * width + entering]
                if f != 0 {
                    for c in 0..<width { t[r * width + c] -= f * t[leaving * width + c] }
                }
            }
            let f = cost[entering]
            for c in 0..<width { cost[c] -= f * t[leaving * width + c] }
            basis[leaving] = entering
        }
        // Phase-1 optimum: the sum of the artificial variables still in the basis.
        var infeasibility = 0.0
        for r in 0..<d where basis[r] >= m { infeasibility += abs(t[r * width + columns]) }
        let rhsScale = max(1, rhs.reduce(0) { max($0, abs($1)) })
        return infeasibility <= 1e-9 * rhsScale
    }
}
