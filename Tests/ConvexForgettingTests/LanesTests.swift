import ConvexForgetting
import Foundation
import Testing

/// The toolkit's one exponential and the seed lanes: accuracy, and the same bytes alone, in lanes and on
/// any thread count.
@Suite struct LanesTests {
    func problem(_ name: String) throws -> Problem {
        try Problem.load(path: repositoryRoot.appendingPathComponent("Experiments/instances/\(name).json").path)
    }

    /// Every field of every row, bit for bit (== would let -0 equal 0).
    func bits(_ rows: [TrajectoryRow]) -> [[UInt64]] {
        rows.map { r in
            [UInt64(r.step), UInt64(r.gradEvals), UInt64(r.lossEvals), r.objective == "dpo" ? 1 : r.objective == "sft" ? 2 : 0]
                + r.theta.map(\.bitPattern)
                + [r.stepSize, r.fDPO, r.fSFT, r.fMix, r.gapDPO, r.gapSFT, r.gapMix, r.idealDistance].map(\.bitPattern)
        }
    }

    func alone(_ trainer: Trainer, _ spec: RunSpec, seed: UInt64) -> SeedRun {
        var one = spec
        one.seed = seed
        var rows: [TrajectoryRow] = []
        let result = trainer.run(one) { rows.append($0) }
        return SeedRun(result: result, rows: rows)
    }

    #if arch(x86_64)
    /// Within 0.52 ulp on normal results and 1 ulp on subnormal ones (two roundings there), against the 80-bit
    /// reference; the SIMD4 form equal to the scalar one in every bit.
    @Test func expIsAccurateAndItsVectorFormIsBitIdentical() {
        let a = Exp.accuracy(points: 400_000, seed: 3)
        #expect(a.points == 400_000)
        #expect(a.maxULPNormal <= 0.52, "max \(a.maxULPNormal) ulp on normal results")
        #expect(a.maxULP <= 1, "max \(a.maxULP) ulp at \(a.worstArgument)")
        #expect(a.mismatches == 0)
    }
    #endif

    @Test func expSpecialValues() {
        let cases: [(Double, Double)] = [(0, 1), (-0.0, 1), (1, 2.718281828459045), (-1, 0.36787944117144233),
                                         (.infinity, .infinity), (-.infinity, 0), (710, .infinity), (-746, 0),
                                         (-1e-300, 1)]
        for (x, expected) in cases {
            #expect(Exp.exp(x) == expected, "exp(\(x)) = \(Exp.exp(x))")
            #expect(Exp.exp(SIMD4(repeating: x))[3].bitPattern == Exp.exp(x).bitPattern)
        }
        #expect(Exp.exp(.nan).isNaN && Exp.exp(SIMD4<Double>(1, .nan, 2, 3))[1].isNaN)
        // Subnormal results, and the largest finite ones.
        #expect(Exp.exp(-740) > 0 && !Exp.exp(-740).isNormal && Exp.exp(709.78).isFinite)
        // e^(k ln 2) = 2^k, up to the rounding of k ln 2 (relative |k| ln 2 2^-53) and an ulp.
        for k in [-1000, -10, 3, 1000] {
            let x = Double(k) * M_LN2
            #expect(abs(Exp.exp(x) / pow(2, Double(k)) - 1) <= Double(abs(k)) * M_LN2 * 0x1p-53 + 4e-16)
        }
        // Lanes with arguments of both kinds: every lane equals its scalar.
        let mixed = SIMD4<Double>(-800, 0.5, 705, -3)
        let e = Exp.exp(mixed)
        for lane in 0..<4 { #expect(e[lane].bitPattern == Exp.exp(mixed[lane]).bitPattern) }
    }

    @Test(arguments: [("random-a", 0.5), ("random-a", 0.1), ("figure2", 0.5), ("lower-bound", 0.9)])
    func lanesEqualRunsAloneOnAnyThreadCount(_ name: String, _ lambda: Double) throws {
        let problem = try problem(name)
        let optima = try OptimalValues(problem: problem, lambda: lambda)
        let trainer = Trainer(problem: problem, optima: optima)
        let spec = RunSpec(method: .alright, lambda: lambda, steps: 700, schedule: .inverseSqrt(0.5), record: .log)
        let seeds: [UInt64] = Array(0..<13) + [1 << 40, 12345]  // not a multiple of four
        let one = trainer.runSeeds(spec, seeds: seeds, threads: 1)
        let two = trainer.runSeeds(spec, seeds: seeds, threads: 2)
        let scalar = trainer.runSeeds(spec, seeds: seeds, threads: 2, lanes: false)
        #expect(one.count == seeds.count)
        for (s, seed) in seeds.enumerated() {
            let reference = alone(trainer, spec, seed: seed)
            #expect(reference.rows.count > 10)
            #expect(bits(one[s].rows) == bits(reference.rows), "seed \(seed) in lanes")
            #expect(bits(two[s].rows) == bits(reference.rows), "seed \(seed) in lanes on 2 threads")
            #expect(bits(scalar[s].rows) == bits(reference.rows), "seed \(seed) on the scalar loop")
            #expect(one[s].result == reference.result)
        }
        // Different seeds made different runs (the lanes did not share a coin stream).
        #expect(Set(one.map { $0.result.final.theta }).count == seeds.count)
    }

    /// A step size that diverges some seeds: those run alone on the scalar loop, with its divergedAt.
    @Test func divergingSeedsFallBackToTheScalarLoop() throws {
        let problem = try problem("random-a")
        let trainer = Trainer(problem: problem, optima: .unknown(lambda: 0.5, dimension: problem.dimension))
        let spec = RunSpec(method: .alright, lambda: 0.5, steps: 50, schedule: .constant(1e307), record: .all)
        let seeds: [UInt64] = Array(0..<6)
        let runs = trainer.runSeeds(spec, seeds: seeds, threads: 1)
        for (s, seed) in seeds.enumerated() {
            let reference = alone(trainer, spec, seed: seed)
            #expect(reference.result.divergedAt != nil, "seed \(seed)")
            #expect(runs[s].result == reference.result)
            #expect(bits(runs[s].rows) == bits(reference.rows))
        }
    }

    /// Batches, other methods and a rule of one's own keep the scalar loop, with the same results.
    @Test func otherRunsUseTheScalarLoop() throws {
        let problem = try problem("random-a")
        let optima = try OptimalValues(problem: problem, lambda: 0.5)
        let trainer = Trainer(problem: problem, optima: optima)
        var batched = RunSpec(method: .alright, lambda: 0.5, steps: 100, schedule: .inverseSqrt(0.5), batch: 2, record: .every(10))
        let seeds: [UInt64] = [3, 4, 5]
        for spec in [batched, RunSpec(method: .maxright, lambda: 0.5, steps: 100, schedule: .constant(0.1))] {
            let runs = trainer.runSeeds(spec, seeds: seeds, threads: 2)
            for (s, seed) in seeds.enumerated() { #expect(bits(runs[s].rows) == bits(alone(trainer, spec, seed: seed).rows)) }
        }
        struct SFTOnly: SelectionRule {
            mutating func objective(forStep t: Int, context: inout RuleContext) -> Objective? { .sft }
        }
        batched.batch = nil
        let rule = MethodUnderTest.rule("sft-only") { _ in SFTOnly() }
        let runs = trainer.runSeeds(batched, seeds: seeds, threads: 2, method: rule)
        let expected = trainer.run(SFTOnly(), batched) { _ in }
        for run in runs {
            #expect(run.result == expected)
            #expect(run.rows.dropFirst().allSatisfy { $0.objective == "sft" })
        }
    }

    /// An instance large enough for the sliced SFT sum (2^20 feature values) keeps the scalar loop and its bytes.
    @Test func largeInstancesKeepTheScalarLoop() throws {
        let problem = try Problem(try Instance.random(RandomInstanceSpec(dimension: 64, outputs: 32, dpoCount: 8, sftCount: 512, seed: 1)))
        #expect(problem.sft.features.values.count >= SFTLoss.parallelThreshold)
        let trainer = Trainer(problem: problem, optima: .unknown(lambda: 0.5, dimension: 64))
        let spec = RunSpec(method: .alright, lambda: 0.5, steps: 6, schedule: .inverseSqrt(0.5), record: .all)
        let runs = trainer.runSeeds(spec, seeds: [0, 1], threads: 2)
        for seed in 0..<2 { #expect(bits(runs[seed].rows) == bits(alone(trainer, spec, seed: UInt64(seed)).rows)) }
    }

    /// A sweep's ALRIGHT runs (grouped into lanes) write the rows each run writes alone.
    @Test func sweepRowsEqualRunsAlone() throws {
        let directory = try temporaryDirectory()
        let instance = repositoryRoot.appendingPathComponent("Experiments/instances/random-a.json").path
        let file = directory.appendingPathComponent("lanes.yaml")
        try """
        name: lanes
        instances: [\(instance)]
        methods: [alright]
        lambdas: [0.5]
        steps: [300]
        seeds: {from: 0, count: 9}
        schedules: [{name: inverse-sqrt, rate: 0.5}]
        record: every:50
        """.write(to: file, atomically: true, encoding: .utf8)
        let out = directory.appendingPathComponent("out")
        let result = try runCLI(["sweep", file.path, "--out", out.path, "--threads", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        let written = try String(contentsOf: out.appendingPathComponent("trajectories.csv"), encoding: .utf8)
        let problem = try problem("random-a")
        let trainer = Trainer(problem: problem, optima: try OptimalValues(problem: problem, lambda: 0.5))
        let spec = RunSpec(method: .alright, lambda: 0.5, steps: 300, schedule: .inverseSqrt(0.5), record: .every(50))
        let table = RunTable.trajectory(dimension: 3, runID: true)
        var expected = table.header
        for seed in 0..<9 {
            var one = spec
            one.seed = UInt64(seed)
            _ = trainer.run(one) { row in
                expected += table.line(RunTable.trajectoryFields(RunTable.Labels(one), row, dimension: 3, runID: seed))
            }
        }
        #expect(written == expected)
    }
}
