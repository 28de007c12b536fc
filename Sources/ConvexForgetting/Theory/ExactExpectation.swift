import Foundation

/// E[G_mix,lambda(theta_T)] computed, not sampled, on a one-dimensional instance (`ScalarModel`;
/// THEORY.md section 6). Every method is a Markov chain on s: an update applies one of finitely many
/// deterministic maps s -> s - alpha_t sum_k w_k f_k'(s) (the objective a coin or the rule picks, and with a
/// batch the multiset of data drawn), each with a known probability. The law of s is propagated exactly
/// as a list of atoms while it has at most `gridPoints` of them; beyond that each step's atoms are
/// deposited on a uniform grid over their range by three-point quadratic weights (each atom's mass shared
/// between its nearest grid point and the two beside it so that mass, mean and second moment are kept), and
/// the outermost grid points holding less than 1e-18 of the mass are dropped.
///
/// The error: the computation is repeated on a grid twice as fine and `errorBound` is the difference of the
/// two (a two-grid estimate: the splitting error is second order in the spacing, so this is about three
/// times the error of the finer result, which is the one reported) plus the dropped mass times the
/// largest gap any path can reach (an honest bound on what dropping can miss). Deterministic runs keep
/// one atom: errorBound 0, the result exact up to rounding. The grid is refined until every horizon's
/// errorBound is at most `relativeTolerance` of its value; if that needs more than `maximumGridPoints`,
/// `run` throws rather than report a larger error.
public struct ExactExpectation: Sendable {
    public let model: ScalarModel
    public let spec: RunSpec
    /// f*_DPO, f*_SFT (MAXRIGHT's and the threshold's reference values) and f*_mix,lambda.
    public let optima: OptimalValues
    /// s of theta_1 (the spec's start, else the problem's default start).
    public let startMargin: Double
    public var gridPoints = 128
    public var maximumGridPoints = 65_536
    public var relativeTolerance = 1e-3

    public struct Row: Sendable, Equatable {
        /// theta_T is the iterate after T - 1 updates.
        public var horizon: Int
        public var expectedGap: Double
        public var errorBound: Double
        /// Atoms of the finer law at this horizon (1 for a deterministic run).
        public var atoms: Int
    }

    public struct Unsupported: Error, CustomStringConvertible {
        public var description: String
    }

    /// Refuses an instance that is not one-dimensional (`ScalarModel`) and what is not a Markov chain on s:
    /// maxright-stale (its choice depends on the past) and a Sequential threshold with a batch (its phase
    /// depends on the path).
    public init(problem: Problem, spec: RunSpec, optima: OptimalValues) throws(Unsupported) {
        do { model = try ScalarModel(problem: problem) } catch { throw Unsupported(description: error.description) }
        if case .maxrightStale = spec.method {
            throw Unsupported(description: "maxright-stale's choice depends on past evaluations, so it is not a Markov chain on s; use maxright")
        }
        if case .sequential(let plan) = spec.method, plan.threshold != nil, spec.batch != nil {
            throw Unsupported(description: "a Sequential threshold with --batch makes the phase depend on the path; drop one of them")
        }
        self.spec = spec
        self.optima = optima
        startMargin = model.margin(spec.start ?? problem.defaultStart)
    }

    /// One map: s -> s - alpha (sum_i dpo_i f'_DPO,i(s) + sum_j sft_j f'_SFT,j(s)), taken with `probability`.
    struct Branch {
        var probability: Double
        var dpo: [(Int, Double)]
        var sft: [(Int, Double)]
    }

    /// The multisets of `size` data drawn with replacement from `count` (nil: the full batch), as
    /// (probability, weights summing to 1).
    static func draws(count: Int, size: Int?) throws(Unsupported) -> [(Double, [(Int, Double)])] {
        guard let b = size else { return [(1, (0..<count).map { ($0, 1 / Double(count)) })] }
        // C(count + b - 1, b) multisets; refuse more than 4096.
        var combinations = 1.0
        for k in 0..<min(b, count - 1) { combinations = combinations * Double(b + count - 1 - k) / Double(k + 1) }
        guard combinations <= 4096 else {
            throw Unsupported(description: "batch \(b) from \(count) data gives \(Int(min(combinations, 1e18))) distinct batches; the exact law allows 4096")
        }
        var result: [(Double, [(Int, Double)])] = []
        var counts = [Int](repeating: 0, count: count)
        func logFactorial(_ k: Int) -> Double { (1...max(1, k)).reduce(0) { $0 + log(Double($1)) } }
        let logFactorialB = logFactorial(b)
        func visit(_ i: Int, _ left: Int) {
            if i == count - 1 {
                counts[i] = left
                var logP = logFactorialB - Double(b) * log(Double(count))
                for c in counts { logP -= logFactorial(c) }
                result.append((exp(logP), counts.enumerated().filter { $0.element > 0 }.map { ($0.offset, Double($0.element) / Double(b)) }))
                return
            }
            for c in stride(from: left, through: 0, by: -1) {
                counts[i] = c
                visit(i + 1, left - c)
            }
        }
        visit(0, b)
        return result
    }

    /// The law's support, its atoms and the mass dropped so far.
    struct Law {
        var position: [Double]
        var mass: [Double]
        var dropped = 0.0
        /// Bounds on every path's s (dropped ones included).
        var low: Double
        var high: Double
        /// Sequential's phase state (deterministic runs only).
        var phase = 0
        var taken = (0, 0)
        var deposited = false
    }

    /// The rows for `horizons` (ascending, >= 1).
    public func run(horizons: [Int]) throws(Unsupported) -> [Row] {
        guard let last = horizons.last, horizons.allSatisfy({ $0 >= 1 }) else { return [] }
        let total = spec.maximumSteps
        guard last - 1 <= total else {
            throw Unsupported(description: "horizon \(last) needs \(last - 1) updates but the run takes at most \(total)")
        }
        var n = gridPoints
        var coarse = try propagate(horizons: horizons, points: n)
        if !coarse.deposited { return coarse.rows }
        while true {
            let fine = try propagate(horizons: horizons, points: 2 * n)
            var rows = fine.rows
            var worst = 0.0
            for k in rows.indices {
                rows[k].errorBound = abs(coarse.rows[k].expectedGap - fine.rows[k].expectedGap) + fine.rows[k].errorBound
                worst = max(worst, rows[k].errorBound / max(rows[k].expectedGap, 1e-300))
            }
            if worst <= relativeTolerance { return rows }
            guard 4 * n <= maximumGridPoints else {
                throw Unsupported(description: "the two-grid error estimate is still \(worst) of the expected gap with \(2 * n) grid points (allowed: \(relativeTolerance) with at most \(maximumGridPoints) points)")
            }
            n *= 2
            coarse = fine
        }
    }

    /// Propagates the law with at most `points` atoms; errorBound holds only the dropped-mass bound.
    func propagate(horizons: [Int], points: Int) throws(Unsupported) -> (rows: [Row], deposited: Bool) {
        let m = model
        let lambda = spec.lambda
        let dpoDraws = try Self.draws(count: m.dpoCount, size: spec.batch)
        let sftDraws = try Self.draws(count: m.sftCount, size: spec.batch)
        let dpoBranches = dpoDraws.map { Branch(probability: $0.0, dpo: $0.1, sft: []) }
        let sftBranches = sftDraws.map { Branch(probability: $0.0, dpo: [], sft: $0.1) }
        var mixBranches: [Branch] = []
        for a in dpoDraws {
            for b in sftDraws {
                mixBranches.append(Branch(probability: a.0 * b.0, dpo: a.1.map { ($0.0, lambda * $0.1) },
                                          sft: b.1.map { ($0.0, (1 - lambda) * $0.1) }))
            }
        }
        let start = startMargin
        var law = Law(position: [start], mass: [1], low: start, high: start)
        let curvature = m.curvatureBound, slopeBound = m.slopeBound
        var rows: [Row] = []
        var next = 0
        let updatesAt = horizons.map { $0 - 1 }
        func gap(_ s: Double) -> Double {
            max(0, lambda * m.loss(.dpo, s) + (1 - lambda) * m.loss(.sft, s) - optima.mix.value)
        }
        func record() {
            var e = 0.0
            for k in law.position.indices { e += law.mass[k] * gap(law.position[k]) }
            let reach = law.dropped > 0 ? law.dropped * max(gap(law.low), gap(law.high)) : 0
            rows.append(Row(horizon: horizons[next], expectedGap: e, errorBound: reach, atoms: law.position.count))
            next += 1
        }
        var t = 0
        while next < horizons.count && updatesAt[next] == 0 { record() }
        var newPosition: [Double] = [], newMass: [Double] = [], slopes: [Double] = []
        // The weighted maps of each kind of update, built once: (probability of the choice, branch).
        let alrightMaps = [(lambda, dpoBranches), (1 - lambda, sftBranches)].filter { $0.0 > 0 }.flatMap { p in p.1.map { (p.0, $0) } }
        let mixMaps = mixBranches.map { (1.0, $0) }, dpoMaps = dpoBranches.map { (1.0, $0) }, sftMaps = sftBranches.map { (1.0, $0) }
        while next < horizons.count {
            t += 1
            // Which branches apply at s, and with which step index.
            var index = t
            var maps: [(Double, Branch)] = []  // the same at every s, unless MAXRIGHT chooses by the gaps at s
            var byGaps = false
            switch spec.method {
            case .alright: maps = alrightMaps
            case .mix: maps = mixMaps
            case .maxright: byGaps = true
            case .maxrightStale: preconditionFailure("refused by init")
            case .sequential(let plan):
                let firstSteps = plan.dpoFirst ? plan.dpoSteps : plan.sftSteps
                let secondSteps = plan.dpoFirst ? plan.sftSteps : plan.dpoSteps
                let first: Objective = plan.dpoFirst ? .dpo : .sft, second: Objective = plan.dpoFirst ? .sft : .dpo
                func reached(_ o: Objective) -> Bool {
                    guard let h = plan.threshold else { return false }
                    let optimum = o == .dpo ? optima.dpo.value : optima.sft.value
                    return m.loss(o, law.position[0]) - optimum <= h
                }
                var objective: Objective? = nil
                if law.phase == 0 {
                    if law.taken.0 < firstSteps, !reached(first) { law.taken.0 += 1; objective = first } else { law.phase = 1 }
                }
                if objective == nil, law.phase == 1 {
                    if law.taken.1 < secondSteps, !reached(second) { law.taken.1 += 1; objective = second } else { law.phase = 2 }
                }
                guard let objective else {
                    // The run has ended: later horizons see its last iterate.
                    while next < horizons.count { record() }
                    continue
                }
                if law.phase == 1, plan.phaseSchedule == .restart { index = law.taken.1 }
                maps = objective == .dpo ? dpoMaps : sftMaps
            }
            let alpha = spec.schedule.stepSize(index)
            newPosition.removeAll(keepingCapacity: true)
            newMass.removeAll(keepingCapacity: true)
            @inline(__always) func apply(_ branch: Branch, _ s: Double) -> Double {
                var slope = 0.0
                for (i, w) in branch.dpo { slope += w * m.dpoSlope(i, s) }
                for (i, w) in branch.sft { slope += w * m.sft(i, s).slope }
                return s - alpha * slope
            }
            if byGaps {
                for k in law.position.indices {
                    let s = law.position[k], w = law.mass[k]
                    let gaps = (lambda * (m.loss(.dpo, s) - optima.dpo.value), (1 - lambda) * (m.loss(.sft, s) - optima.sft.value))
                    for b in gaps.0 >= gaps.1 ? dpoBranches : sftBranches { newPosition.append(apply(b, s)); newMass.append(w * b.probability) }
                }
            } else {
                // Branch by branch over all atoms: a loop the compiler keeps tight.
                for (p, b) in maps {
                    let offset = newPosition.count
                    newPosition.append(contentsOf: law.position)
                    newMass.append(contentsOf: law.mass)
                    let factor = p * b.probability
                    slopes.removeAll(keepingCapacity: true)
                    slopes.append(contentsOf: repeatElement(0, count: law.position.count))
                    m.addSlopes(dpo: b.dpo, sft: b.sft, at: law.position, into: &slopes)
                    for k in slopes.indices {
                        newPosition[offset + k] -= alpha * slopes[k]
                        newMass[offset + k] *= factor
                    }
                }
            }
            // Every path's range: images of the extremes when every map is non-decreasing (alpha L <= 1) and
            // the choice does not depend on s; otherwise each step moves s by at most alpha max|f'|.
            if alpha * curvature <= 1, !byGaps {
                var low = Double.infinity, high = -Double.infinity
                for (_, b) in maps { low = min(low, apply(b, law.low)); high = max(high, apply(b, law.high)) }
                law.low = low
                law.high = high
            } else {
                law.low -= alpha * slopeBound
                law.high += alpha * slopeBound
            }
            guard newPosition.allSatisfy(\.isFinite) else {
                throw Unsupported(description: "the iterate left the finite range at update \(t) (learning rate too large?)")
            }
            if newPosition.count <= points {
                swap(&law.position, &newPosition)
                swap(&law.mass, &newMass)
            } else {
                law.deposited = true
                deposit(newPosition, newMass, points: points, into: &law)
            }
            while next < horizons.count && updatesAt[next] == t { record() }
        }
        return (rows, law.deposited)
    }

    /// Three-point quadratic splitting (mass, mean and second moment kept) onto `points` uniform grid points
    /// over the atoms' range, then the ends holding less
    /// than 1e-18 of the mass are dropped (their mass added to `law.dropped`).
    func deposit(_ position: [Double], _ mass: [Double], points: Int, into law: inout Law) {
        var lo = Double.infinity, hi = -Double.infinity
        for k in position.indices where mass[k] != 0 { lo = min(lo, position[k]); hi = max(hi, position[k]) }
        var grid = [Double](repeating: 0, count: points)
        let h = (hi - lo) / Double(points - 1)
        if h > 0 {
            for k in position.indices where mass[k] != 0 {
                let x = (position[k] - lo) / h
                let i = min(max(Int(x.rounded()), 1), points - 2)
                let u = x - Double(i)
                let w = mass[k]
                grid[i - 1] += w * u * (u - 1) / 2
                grid[i] += w * (1 - u * u)
                grid[i + 1] += w * u * (u + 1) / 2
            }
        } else {
            grid[0] = mass.reduce(0, +)
        }
        var first = 0, last = points - 1, cut = 0.0
        while first < last, cut + abs(grid[first]) < 1e-18 { cut += abs(grid[first]); first += 1 }
        while last > first, cut + abs(grid[last]) < 1e-18 { cut += abs(grid[last]); last -= 1 }
        law.dropped += cut
        law.position = (first...last).map { lo + Double($0) * h }
        law.mass = Array(grid[first...last])
    }
}
