import ConvexForgetting
import Foundation
import Testing

/// `ExactExpectation` and `ScalarModel` (issue 9, section 1), the T0 search and the Sequential envelope
/// (section 2), the asymptotic constant (section 3).
@Suite struct ExactTests {
    let lowerBound = try! Problem.load(path: repositoryRoot.appendingPathComponent("Experiments/instances/lower-bound.json").path)

    /// E[G(theta_T)] by brute force: every coin path of ALRIGHT (and every batch draw), in theta space with
    /// the problem's own gradients, so that neither the reduction to s nor the grid is trusted.
    func enumerate(_ problem: Problem, lambda: Double, schedule: StepSchedule, batch: Int?, updates: Int, optimum: Double) -> Double {
        let n = (dpo: problem.dataCount(.dpo), sft: problem.dataCount(.sft))
        func draws(_ count: Int) -> [([Int], Double)] {
            guard let b = batch else { return [(Array(0..<count), 1)] }
            var all: [([Int], Double)] = [([], 1)]
            for _ in 0..<b { all = all.flatMap { prefix in (0..<count).map { (prefix.0 + [$0], prefix.1 / Double(count)) } } }
            return all
        }
        let dpoDraws = draws(n.dpo), sftDraws = draws(n.sft)
        func gradient(_ objective: Objective, _ indices: [Int], _ theta: [Double]) -> [Double] {
            var g = [Double](repeating: 0, count: theta.count)
            for i in indices {
                let datum = problem.datumGradient(objective, datum: i, at: theta).gradient
                for k in g.indices { g[k] += datum[k] / Double(indices.count) }
            }
            return g
        }
        func visit(_ theta: [Double], _ t: Int, _ p: Double) -> Double {
            if t > updates { return p * (problem.value(.mix(lambda: lambda), at: theta) - optimum) }
            let alpha = schedule.stepSize(t)
            var total = 0.0
            for (objective, weight, options) in [(Objective.dpo, lambda, dpoDraws), (.sft, 1 - lambda, sftDraws)] where weight > 0 {
                for (indices, q) in options {
                    let g = gradient(objective, indices, theta)
                    total += visit(zip(theta, g).map { $0 - alpha * $1 }, t + 1, p * weight * q)
                }
            }
            return total
        }
        return visit(problem.defaultStart, 1, 1)
    }

    @Test func exactMatchesEveryCoinPath() throws {
        for (lambda, horizons) in [(0.3, [2, 5, 12, 20]), (0.8, [7, 16])] {
            let optima = try OptimalValues(problem: lowerBound, lambda: lambda)
            let spec = RunSpec(method: .alright, lambda: lambda, steps: horizons.last! - 1, schedule: .inverseSqrt(0.5), record: .final)
            let rows = try ExactExpectation(problem: lowerBound, spec: spec, optima: optima).run(horizons: horizons)
            for row in rows {
                let brute = enumerate(lowerBound, lambda: lambda, schedule: .inverseSqrt(0.5), batch: nil, updates: row.horizon - 1,
                                      optimum: optima.mix.value)
                // The error bound is honest, and at most 1e-3 relative.
                #expect(abs(row.expectedGap - brute) <= row.errorBound + 1e-12, "T = \(row.horizon): \(row.expectedGap) vs \(brute)")
                #expect(row.errorBound <= 1e-3 * row.expectedGap)
            }
            // Up to 2^7 = 128 atoms (T = 8) the law is kept exactly: no error at all.
            #expect(try ExactExpectation(problem: lowerBound, spec: spec, optima: optima).run(horizons: [8])[0].errorBound == 0)
        }
    }

    /// A tolerance the largest grid cannot meet is an error, never a result with a larger errorBound.
    @Test func unreachableToleranceIsAnError() throws {
        let optima = try OptimalValues(problem: lowerBound, lambda: 0.5)
        let spec = RunSpec(method: .alright, lambda: 0.5, steps: 999, schedule: .inverseSqrt(0.5), record: .final)
        var exact = try ExactExpectation(problem: lowerBound, spec: spec, optima: optima)
        exact.relativeTolerance = 1e-14
        exact.maximumGridPoints = 512
        #expect(throws: ExactExpectation.Unsupported.self) { try exact.run(horizons: [1_000]) }
        exact.relativeTolerance = 1e-3
        exact.maximumGridPoints = 65_536
        let row = try exact.run(horizons: [1_000])[0]
        #expect(row.errorBound <= 1e-3 * row.expectedGap)
    }

    /// A one-dimensional instance with two data per objective, three outputs, and minibatches of 2: the
    /// mixture over batches (multisets drawn with replacement) against every ordered draw.
    @Test func exactMixesOverBatches() throws {
        let u = [0.6, -0.8]
        func f(_ c: Double) -> [Double] { u.map { $0 * c } }
        let instance = try makeInstance(
            dpo: [([f(1), f(-0.5)], 0, 1), ([f(0.2), f(0.7), f(0)], 2, 0)],
            sft: [([f(0.5), f(-1), f(0.3)], 0), ([f(-0.4), f(0.9)], 1)], beta: 1.5, bound: 2, thetaRef: [0.1, 0.3])
        let problem = try Problem(instance)
        let model = try ScalarModel(problem: problem)
        #expect(abs(abs(model.direction[0]) - 0.6) < 1e-12)
        let lambda = 0.4
        let optima = try OptimalValues(problem: problem, lambda: lambda)
        #expect(optima.mix.attained)
        let spec = RunSpec(method: .alright, lambda: lambda, steps: 5, schedule: .constant(0.7), batch: 2, record: .final)
        let rows = try ExactExpectation(problem: problem, spec: spec, optima: optima).run(horizons: [3, 6])
        for row in rows {
            let brute = enumerate(problem, lambda: lambda, schedule: .constant(0.7), batch: 2, updates: row.horizon - 1, optimum: optima.mix.value)
            #expect(abs(row.expectedGap - brute) <= row.errorBound + 1e-12, "T = \(row.horizon): \(row.expectedGap) vs \(brute)")
        }
        // The model's losses are the problem's.
        for s in [-3.0, 0.2, 4.0] {
            let theta = u.map { $0 * s }
            #expect(close(model.loss(.dpo, s), problem.value(.dpo, at: theta), 1e-13))
            #expect(close(model.loss(.sft, s), problem.value(.sft, at: theta), 1e-13))
        }
    }

    /// Deterministic methods keep one atom; their exact gap is the training loop's, step by step: Mix and
    /// MAXRIGHT (and Sequential) on the lower-bound instance follow the scalar recursion.
    @Test func deterministicMethodsFollowTheScalarRecursion() throws {
        let lambda = 0.6
        let optima = try OptimalValues(problem: lowerBound, lambda: lambda)
        let trainer = Trainer(problem: lowerBound, optima: optima)
        let methods: [Method] = [
            .mix, .maxright,
            .sequential(SequentialPlan(dpoFirst: true, dpoSteps: 30, sftSteps: 40, threshold: 0.05)),
            .sequential(SequentialPlan(dpoFirst: false, dpoSteps: 35, sftSteps: 35, phaseSchedule: .restart)),
        ]
        for method in methods {
            let spec = RunSpec(method: method, lambda: lambda, steps: 70, schedule: .inverseSqrt(0.4), record: .all)
            var gaps: [Double] = []
            _ = trainer.run(spec) { gaps.append($0.gapMix) }
            let exact = try ExactExpectation(problem: lowerBound, spec: spec, optima: optima).run(horizons: Array(1...71))
            #expect(exact.allSatisfy { $0.errorBound == 0 && $0.atoms == 1 })
            for (row, gap) in zip(exact, gaps) {
                #expect(abs(row.expectedGap - gap) <= 1e-10 * max(1, gap), "\(method) T = \(row.horizon)")
            }
        }
    }

    /// Mix and MAXRIGHT on the lower-bound instance are the scalar recursion s <- s - alpha_t f'(s), written out
    /// here: the weighted slope for Mix, the slope of the objective with the larger weighted gap for MAXRIGHT.
    /// Compared on s = theta . u itself (a gap can be the same on both sides of the minimizer).
    @Test func mixAndMaxrightTrajectoriesAreTheScalarRecursion() throws {
        let lambda = 0.6, schedule = StepSchedule.inverseSqrt(0.4)
        let model = try ScalarModel(problem: lowerBound)
        let optima = try OptimalValues(problem: lowerBound, lambda: lambda)
        let trainer = Trainer(problem: lowerBound, optima: optima)
        func slope(_ objective: Objective, _ s: Double) -> Double {
            objective == .dpo
                ? (0..<model.dpoCount).reduce(0) { $0 + model.dpoSlope($1, s) } / Double(model.dpoCount)
                : (0..<model.sftCount).reduce(0) { $0 + model.sft($1, s).slope } / Double(model.sftCount)
        }
        for method in [Method.mix, .maxright] {
            var thetas: [[Double]] = []
            _ = trainer.run(RunSpec(method: method, lambda: lambda, steps: 300, schedule: schedule, record: .all)) { thetas.append($0.theta) }
            #expect(thetas.count == 301)
            var s = model.margin(thetas[0])
            var dpoSteps = 0
            for t in 1..<thetas.count {
                let alpha = schedule.stepSize(t)
                if method == .mix {
                    s -= alpha * (lambda * slope(.dpo, s) + (1 - lambda) * slope(.sft, s))
                } else {
                    let dpo = lambda * (model.loss(.dpo, s) - optima.dpo.value) >= (1 - lambda) * (model.loss(.sft, s) - optima.sft.value)
                    if dpo { dpoSteps += 1 }
                    s -= alpha * slope(dpo ? .dpo : .sft, s)
                }
                #expect(abs(model.margin(thetas[t]) - s) <= 1e-10 * max(1, abs(s)), "\(method) t = \(t): \(model.margin(thetas[t])) vs \(s)")
            }
            // MAXRIGHT really alternates here (both branches of the recursion are exercised).
            if method == .maxright { #expect(dpoSteps > 10 && dpoSteps < 290, "\(dpoSteps) DPO steps") }
        }
    }

    @Test func exactRefusesWhatItCannotCompute() throws {
        let random = try Problem.load(path: repositoryRoot.appendingPathComponent("Experiments/instances/random-a.json").path)
        let optima = try OptimalValues(problem: random, lambda: 0.5)
        let spec = RunSpec(method: .alright, lambda: 0.5, steps: 10, schedule: .constant(0.1))
        #expect(throws: ExactExpectation.Unsupported.self) { try ExactExpectation(problem: random, spec: spec, optima: optima) }
        let lbOptima = try OptimalValues(problem: lowerBound, lambda: 0.5)
        var stale = spec
        stale.method = .maxrightStale(evalEvery: 3)
        #expect(throws: ExactExpectation.Unsupported.self) { try ExactExpectation(problem: lowerBound, spec: stale, optima: lbOptima) }
        // A horizon beyond the run.
        #expect(throws: ExactExpectation.Unsupported.self) {
            try ExactExpectation(problem: lowerBound, spec: spec, optima: lbOptima).run(horizons: [12])
        }
    }

    /// T0 by branch and bound equals an exhaustive integer scan, for every variant and lambda of the grid;
    /// the case the ceilings broke (SFT then DPO, inverse-sqrt, lambda = 0.65) is 912.
    @Test func horizonSearchEqualsExhaustiveScan() throws {
        let analysis = try LowerBoundAnalysis(problem: lowerBound)
        let verification = Theorem33Verification()
        let scanTop = 40_000
        for variant in verification.variants {
            guard case .dpoFirstThreshold = variant else {
                for lambda in verification.lambdas {
                    let optimum = try NewtonSolver().minimize(lowerBound, .mix(lambda: lambda))
                    let floor = analysis.floor(variant, lambda: lambda, optimum: optimum)
                    let target = floor.marginBound
                    var largestFailure = 0
                    for t in 1...scanTop where analysis.neededSteps(variant, target: target, horizon: t) > Double(t) { largestFailure = t }
                    if floor.horizon <= Double(scanTop) {
                        #expect(floor.horizon == Double(largestFailure + 1), "\(variant) lambda \(lambda)")
                    } else {
                        #expect(largestFailure == scanTop || floor.horizon > Double(scanTop))
                    }
                    if case .sftFirst(.inverseSqrt, .continue) = variant, abs(lambda - 0.65) < 1e-12 { #expect(floor.horizon == 912) }
                }
                continue
            }
        }
    }

    /// The envelope holds (the verification passes) and is sharp: certified floor >= 0.5 x the gap in every
    /// non-threshold cell with a constant rate from T = 1000 and with the inverse-sqrt rate at T = 1e6.
    @Test func sequentialEnvelopeIsSharp() throws {
        var verification = Theorem33Verification()
        verification.horizons = [1_000, 10_000, 1_000_000]
        verification.alrightSteps = 10
        let report = try verification.run(lowerBound)
        #expect(report.failures == 0)
        for row in report.rows {
            for cell in row.cells {
                switch row.variant {
                case .dpoFirst(.constant, _), .sftFirst(.constant, _):
                    #expect(cell.sharpness! >= 0.5, "\(row.variant) lambda \(row.lambda) T \(cell.horizon)")
                case .dpoFirst(.inverseSqrt, _), .sftFirst(.inverseSqrt, _):
                    if cell.horizon >= 1_000_000 { #expect(cell.sharpness! >= 0.5, "\(row.variant) lambda \(row.lambda)") }
                case .dpoFirstThreshold:
                    #expect(cell.envelope != nil && cell.insideEnvelope)
                }
            }
        }
    }

    /// Lemma 2 solved for the target: after `steps` updates the recursion is at least there, and one more
    /// unit of target is not guaranteed by the lemma.
    @Test func reachableTargetHolds() {
        for (u0, kappa) in [(-3.0, 0.2), (0.5, 0.05), (-0.1, 1.5), (2.0, 0.8)] {
            for n in [1, 5, 40, 1000] {
                let x = ScalarRecursion.reachable(from: u0, steps: n, kappaMin: kappa)
                var u = u0
                for _ in 0..<n { u += kappa * Stable.sigmoid(-u) }
                #expect(u >= x - 1e-12, "u0 \(u0) kappa \(kappa) n \(n)")
                #expect(ScalarRecursion.hittingSteps(from: u0, to: x - 1e-9 * max(1, abs(x)), kappaMin: kappa) <= Double(n))
                #expect(x == u0 || ScalarRecursion.hittingSteps(from: u0, to: x + 1e-6, kappaMin: kappa) > Double(n))
            }
        }
    }

    /// tr(Sigma*) for full batches equals lambda / (1 - lambda) ||grad f_DPO(theta*)||^2 (the optimality
    /// condition), and the minibatch trace adds the per-datum variances over b.
    @Test func asymptoticConstant() throws {
        let problem = try Problem.load(path: repositoryRoot.appendingPathComponent("Experiments/instances/random-a.json").path)
        let lambda = 0.3
        let optimum = try NewtonSolver().minimize(problem, .mix(lambda: lambda))
        let full = try AsymptoticGap(problem: problem, lambda: lambda, optimum: optimum)
        let gD = problem.gradient(.dpo, at: optimum.theta)
        #expect(close(full.traceSigma, lambda / (1 - lambda) * gD.reduce(0) { $0 + $1 * $1 }, 1e-8))
        let batched = try AsymptoticGap(problem: problem, lambda: lambda, optimum: optimum, batch: 2)
        var variance = 0.0
        for (objective, weight) in [(Objective.dpo, lambda), (.sft, 1 - lambda)] {
            let mean = problem.gradient(objective, at: optimum.theta)
            let n = problem.dataCount(objective)
            for i in 0..<n {
                let g = problem.datumGradient(objective, datum: i, at: optimum.theta).gradient
                variance += weight * zip(g, mean).reduce(0) { $0 + pow($1.0 - $1.1, 2) } / Double(n) / 2
            }
        }
        #expect(close(batched.traceSigma, full.traceSigma + variance, 1e-10))
        #expect(close(full.prediction(stepSize: 0.01), 0.01 * full.traceSigma / 4))
        // The lag falls like 1 / sqrt(T).
        #expect(close(full.lag(horizon: 40_000, alpha0: 0.5) * 2, full.lag(horizon: 10_000, alpha0: 0.5), 1e-3))
    }
}

/// The command-line side: `forgetting exact --json`'s contract, its refusals, and the new CSV columns of
/// both verify commands.
@Suite struct ExactCommandTests {
    let lowerBound = repositoryRoot.appendingPathComponent("Experiments/instances/lower-bound.json").path

    @Test func exactPrintsRowsAsJSON() throws {
        let result = try runCLI(["exact", "--instance", lowerBound, "--method", "alright", "--lambda", "0.3", "--schedule", "inverse-sqrt",
                                 "--learning-rate", "0.5", "--horizons", "2,5,40", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        let rows = object["rows"] as! [[String: Any]]
        #expect(rows.map { $0["horizon"] as! Int } == [2, 5, 40])
        #expect(rows.allSatisfy { ($0["expectedGap"] as! Double) > 0 && ($0["errorBound"] as! Double) >= 0 })
        // T = 2 is one update: lambda DPO step and 1 - lambda SFT step, by hand from the library.
        let problem = try Problem.load(path: lowerBound)
        let optimum = try NewtonSolver().minimize(problem, .mix(lambda: 0.3)).value
        let start = problem.defaultStart
        var expected = 0.0
        for (objective, p) in [(Objective.dpo, 0.3), (.sft, 0.7)] {
            let g = problem.gradient(objective, at: start)
            expected += p * (problem.value(.mix(lambda: 0.3), at: zip(start, g).map { $0 - 0.5 * $1 }) - optimum)
        }
        #expect(abs((rows[0]["expectedGap"] as! Double) - expected) < 1e-12)
        // Deterministic methods: error bound 0.
        let mix = try runCLI(["exact", "--instance", lowerBound, "--method", "mix", "--lambda", "0.3", "--learning-rate", "0.1",
                              "--horizons", "10,100", "--json"])
        #expect(mix.status == 0 && mix.stdout.contains("\"errorBound\":0"), "\(mix.stdout)")
    }

    @Test func exactRefusesInOneLine() throws {
        let random = repositoryRoot.appendingPathComponent("Experiments/instances/random-a.json").path
        for (arguments, words) in [
            (["--instance", random, "--method", "alright"], "not one-dimensional"),
            (["--instance", lowerBound, "--method", "maxright-stale"], "maxright-stale"),
        ] {
            let result = try runCLI(["exact"] + arguments + ["--lambda", "0.5", "--learning-rate", "0.1", "--horizons", "10"])
            #expect(result.status == 1 && result.stderr.contains(words) && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        }
        let bad = try runCLI(["exact", "--instance", lowerBound, "--method", "alright", "--lambda", "0.5", "--learning-rate", "0.1",
                              "--horizons", "10,5"])
        #expect(bad.status == 1 && bad.stderr.contains("--horizons"))
    }

    @Test func verifyCommandsWriteTheNewColumns() throws {
        let root = try temporaryDirectory()
        let t33 = root.appendingPathComponent("t33.csv").path
        #expect(try runCLI(["verify", "theorem33", "--lambdas", "0.5", "--horizons", "1000", "--alright-steps", "10", "--csv", t33]).status == 0)
        let header33 = try String(contentsOfFile: t33, encoding: .utf8).split(separator: "\n")[0]
        for column in ["s_out", "envelope_low", "envelope_high", "certified_floor"] { #expect(header33.contains(column)) }
        let t41 = root.appendingPathComponent("t41.csv").path
        let run = try runCLI(["verify", "theorem41", "--instance", lowerBound, "--seeds", "20", "--exact-seeds", "200", "--lambdas", "0.5",
                              "--horizons", "10,100", "--init", "-10,10", "--csv", t41])
        #expect(run.status == 0, "\(run.stderr)")
        let header41 = try String(contentsOfFile: t41, encoding: .utf8).split(separator: "\n")[0]
        for column in ["asymptotic_gap", "asymptotic_ratio", "exact_gap", "exact_error"] { #expect(header41.contains(column)) }
        let wrongDimension = try runCLI(["verify", "theorem41", "--instance", lowerBound, "--seeds", "2", "--lambdas", "0.5",
                                         "--horizons", "10", "--init", "1,2,3"])
        #expect(wrongDimension.status == 1 && wrongDimension.stderr.contains("--init"), "\(wrongDimension.stderr)")
    }
}
