import ArgumentParser
import ConvexForgetting
import Foundation

/// The benchmark cases.
enum BenchCase: String, CaseIterable, ExpressibleByArgument {
    case toy, large, hessian, tiny, bandwidth, exp, load, seeds
}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time one benchmark case; print time per step (or per call) and a checksum of the result.",
        discussion: """
        Cases (Experiments/bench/run.sh runs them beside NumPy and JAX):
          toy      ALRIGHT on Experiments/instances/figure2.json, lambda 0.5, 2,000,000 steps, final row only
          large    ALRIGHT full batch, 200 steps, on --instance (default out/bench/large: N = M = 1024, K = 32, d = 256)
          hessian  the SFT Hessian and its minimum eigenvalue on --instance (default out/bench/hessian: d = 512)
          tiny     ALRIGHT on a tiny random instance (for tests)
          bandwidth  memory read bandwidth over 256 MB, on one thread and on all cores
          exp      the latency of one exp in a dependent chain (the toy step's floor), the toolkit's Exp.exp and libm's
          seeds    ALRIGHT with alpha0/sqrt(t), alpha0 0.5, lambda --lambda, --seeds seeds x --steps steps (default 100 x 100,000)
                   on --instance (default Experiments/instances/random-a.json), final rows only, in seed lanes
          load     reading and validating --instance (default out/bench/large)
        --coins FILE writes ALRIGHT's coin flips (1 = DPO step) as a uint8 .npy, so the baselines make the same steps
        (seeds: one row per seed).
        """)

    @Argument(help: "The case.")
    var benchCase: BenchCase

    @Option(help: "Instance (JSON file or .npy directory); default per case.")
    var instance: String?

    @Option(parsing: .unconditional, help: "Steps (default: 2,000,000 toy, 200 large, 1000 tiny).")
    var steps: Int?

    @Option(parsing: .unconditional, help: "Repetitions; the best time is reported.")
    var repeats = 3

    @Option(parsing: .unconditional, help: "ALRIGHT's lambda (0: SFT steps only, 1: DPO steps only).")
    var lambda = 0.5

    @Option(help: ArgumentHelp("Write the coin flips as .npy (uint8, 1 = DPO).", valueName: "file.npy"))
    var coins: String?

    @Option(parsing: .unconditional, help: "exp: also measure the accuracy on this many points against an 80-bit reference.")
    var points = 0

    @Option(parsing: .unconditional, help: "Seeds of the seeds case.")
    var seeds = 100

    @Option(parsing: .unconditional, help: "Threads of the seeds case.")
    var threads = 1

    @Flag(inversion: .prefixedNo, help: "Seed lanes in the seeds case (--no-lanes: the scalar loop, seed by seed).")
    var lanes = true

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        try checkLambda(lambda)
        if let steps, steps < 1 { throw ValidationError("--steps must be >= 1") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be >= 1") }
        guard points >= 0, points <= 1_000_000_000 else { throw ValidationError("--points must be in 0...1000000000") }
        guard seeds >= 1, seeds <= Limits.seeds else { throw ValidationError("--seeds must be in 1...\(Limits.seeds)") }
        guard threads >= 1, threads <= 4096 else { throw ValidationError("--threads must be in 1...4096") }
        if benchCase == .seeds, coins != nil {
            let (bytes, overflow) = seeds.multipliedReportingOverflow(by: steps ?? 100_000)
            guard !overflow, bytes <= 1 << 31 else { throw ValidationError("--coins: --seeds x --steps must be at most 2^31 coins") }
        }
        if let coins { try checkOutput(coins, force: false, flag: "--coins") }
    }

    func run() throws {
        switch benchCase {
        case .hessian: try hessian()
        case .bandwidth: bandwidth()
        case .exp: expLatency()
        case .seeds: try seedLanes()
        case .load: try load()
        case .toy, .large, .tiny: try alright()
        }
    }

    func defaultInstance() -> String {
        switch benchCase {
        case .toy: return repositoryFile(Figure2.instancePath)
        case .seeds: return repositoryFile("Experiments/instances/random-a.json")
        case .large, .load: return "out/bench/large"
        case .hessian: return "out/bench/hessian"
        case .tiny, .bandwidth, .exp: return ""
        }
    }

    func loadInstance() throws -> Problem {
        if benchCase == .tiny, instance == nil {
            return try Problem(try Instance.random(RandomInstanceSpec(dimension: 3, outputs: 3, dpoCount: 4, sftCount: 4, seed: 1)))
        }
        let path = instance ?? defaultInstance()
        return try loadProblem(path)
    }

    func alright() throws {
        let problem = try loadInstance()
        let count = steps ?? (benchCase == .toy ? 2_000_000 : benchCase == .large ? 200 : 1000)
        let spec = RunSpec(method: .alright, lambda: lambda, steps: count, schedule: .constant(benchCase == .toy ? 0.01 : 0.1),
                           seed: 0, record: .final, start: problem.defaultStart)
        // Only the loop is timed and no gaps are reported: skip the exact solver (and its memory).
        let optima = OptimalValues.unknown(lambda: lambda, dimension: problem.dimension)
        let trainer = Trainer(problem: problem, optima: optima)
        var best = Double.infinity
        var theta: [Double] = []
        for _ in 0..<repeats {
            let started = DispatchTime.now().uptimeNanoseconds
            let result = trainer.run(spec) { _ in }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            best = min(best, elapsed)
            theta = result.final.theta
        }
        if let coins { try writeCoins(count, to: coins) }
        report(perUnit: best / Double(count), unit: "step", theta: theta, extra: [("steps", "\(count)")])
    }

    func hessian() throws {
        let problem = try loadInstance()
        let theta = problem.defaultStart
        var best = Double.infinity
        var smallest = 0.0
        var checksum = 0.0
        for _ in 0..<repeats {
            let started = DispatchTime.now().uptimeNanoseconds
            let h = problem.hessian(.sft, at: theta)
            smallest = try LinearAlgebra.minimumEigenvalue(h, n: problem.dimension)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
            checksum = h.reduce(0, +)
        }
        report(perUnit: best, unit: "call", theta: [smallest, checksum], extra: [("minEigenvalue", JSON.number(smallest))])
    }

    /// Reads 256 MB (summing it) on one thread and on all cores; prints GB/s.
    func bandwidth() {
        let count = 32 << 20
        let values = [Double](repeating: 1, count: count)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var single = 0.0, all = 0.0
        values.withUnsafeBufferPointer { buffer in
            let shared = SharedBuffer(base: buffer.baseAddress!)
            for _ in 0..<repeats {
                var started = DispatchTime.now().uptimeNanoseconds
                let total = BenchCommand.sum(shared.base, count)
                single = max(single, Double(count * 8) / Double(DispatchTime.now().uptimeNanoseconds - started))
                started = DispatchTime.now().uptimeNanoseconds
                DispatchQueue.concurrentPerform(iterations: cores) { c in
                    _ = BenchCommand.sum(shared.base + c * (count / cores), count / cores)
                }
                all = max(all, Double(count * 8) / Double(DispatchTime.now().uptimeNanoseconds - started))
                precondition(total == Double(count))
            }
        }
        if json {
            print(JSON.object([("case", "\"bandwidth\""), ("gbPerSecondOneThread", JSON.number(single)),
                               ("gbPerSecondAllCores", JSON.number(all)), ("cores", "\(cores)")]))
        } else {
            print(String(format: "bandwidth: %.1f GB/s on one thread, %.1f GB/s on %d cores (read of 256 MB)", single, all, cores))
        }
    }

    struct SharedBuffer: @unchecked Sendable { let base: UnsafePointer<Double> }

    @inline(never)
    static func sum(_ p: UnsafePointer<Double>, _ n: Int) -> Double {
        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
        var k = 0
        while k + 4 <= n {
            s0 += p[k]; s1 += p[k + 1]; s2 += p[k + 2]; s3 += p[k + 3]
            k += 4
        }
        return (s0 + s1) + (s2 + s3)
    }

    /// The time to read and validate an instance (Instance only: no reference fit, no Problem).
    func load() throws {
        let path = instance ?? defaultInstance()
        var best = Double.infinity
        var checksum = 0.0
        for _ in 0..<repeats {
            let started = DispatchTime.now().uptimeNanoseconds
            let loaded: Instance
            do { loaded = try InstanceLoader.load(path: path) } catch { throw CommandFailure("\(error)") }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
            checksum = loaded.sftFeatures.values[0] + loaded.dpoFeatures.values[0]
        }
        report(perUnit: best, unit: "call", theta: [checksum], extra: [])
    }

    /// exp in a dependent chain: the latency every toy step pays at least once (Exp.exp, the toolkit's
    /// one exponential; libm's beside it).
    func expLatency() {
        let n = 10_000_000
        var best = Double.infinity, bestLibm = Double.infinity
        var x = 0.1, y = 0.1
        for _ in 0..<repeats {
            var started = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<n { x = Exp.exp(-x) }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - started) / Double(n))
            started = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<n { y = Foundation.exp(-y) }
            bestLibm = min(bestLibm, Double(DispatchTime.now().uptimeNanoseconds - started) / Double(n))
        }
        var extra = [("libmSecondsPerCall", JSON.number(bestLibm / 1e9))]
        var accuracy: Exp.Accuracy?
        #if arch(x86_64)
        if points > 0 { accuracy = Exp.accuracy(points: points) }
        #endif
        if let a = accuracy {
            extra += [("points", "\(a.points)"), ("maxULP", JSON.number(a.maxULP)), ("maxULPNormal", JSON.number(a.maxULPNormal)),
                      ("worstArgument", JSON.number(a.worstArgument)), ("scalarVectorMismatches", "\(a.mismatches)")]
        }
        report(perUnit: best / 1e9, unit: "call", theta: [x], extra: extra)
        if !json {
            print(String(format: "libm exp: %.2f ns per call", bestLibm))
            if let a = accuracy {
                print(String(format: "accuracy on %d points: max %.3f ulp (%.3f ulp on normal results; worst at %.17g); %d scalar/vector mismatches",
                             a.points, a.maxULP, a.maxULPNormal, a.worstArgument, a.mismatches))
            }
        }
    }

    /// Many seeds of one small ALRIGHT run (Theorem 4.1's setting), final rows only.
    func seedLanes() throws {
        let problem = try loadInstance()
        let count = steps ?? 100_000
        let spec = RunSpec(method: .alright, lambda: lambda, steps: count, schedule: .inverseSqrt(0.5), record: .final)
        let optima = OptimalValues.unknown(lambda: lambda, dimension: problem.dimension)
        let trainer = Trainer(problem: problem, optima: optima)
        let seedList = (0..<seeds).map { UInt64($0) }
        var best = Double.infinity
        var runs: [SeedRun] = []
        for _ in 0..<repeats {
            let started = DispatchTime.now().uptimeNanoseconds
            runs = trainer.runSeeds(spec, seeds: seedList, threads: threads, lanes: lanes)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
        }
        if let coins {
            // Each seed's stream 1, as the runs drew them: [seeds, steps], 1 = DPO.
            var bytes = [UInt8](repeating: 0, count: seeds * count)
            for s in 0..<seeds {
                var rng = Xoshiro256StarStar(seed: UInt64(s), stream: 1)
                for t in 0..<count { bytes[s * count + t] = rng.bernoulli(lambda) ? 1 : 0 }
            }
            do { try NPY.write(bytes, shape: [seeds, count], to: coins) } catch { throw CommandFailure("\(error)") }
        }
        let thetas = runs.flatMap(\.result.final.theta)
        let perSeedStep = best / (Double(count) * Double(seeds))
        let checksum = thetas.reduce(0, +)
        if json {
            print(JSON.object([("case", "\"seeds\""), ("secondsPerSeedStep", JSON.number(perSeedStep)), ("threads", "\(threads)"),
                               ("seeds", "\(seeds)"), ("steps", "\(count)"), ("lanes", "\(lanes)"),
                               ("checksum", JSON.number(checksum)), ("result", JSON.vector(thetas))]))
        } else {
            print(String(format: "seeds: %.2f ns per seed-step (%d seeds x %d steps, %d thread%@, %@); checksum %@",
                         perSeedStep * 1e9, seeds, count, threads, threads == 1 ? "" : "s", lanes ? "lanes" : "scalar",
                         "\(checksum)"))
        }
    }

    /// ALRIGHT's coins for seed 0: stream 1 of the run's generator, uniform() < lambda.
    func writeCoins(_ count: Int, to path: String) throws {
        var rng = Xoshiro256StarStar(seed: 0, stream: 1)
        var bytes = [UInt8](repeating: 0, count: count)
        for t in 0..<count { bytes[t] = rng.bernoulli(lambda) ? 1 : 0 }
        do { try NPY.write(bytes, shape: [count], to: path) } catch { throw CommandFailure("\(error)") }
    }

    func report(perUnit: Double, unit: String, theta: [Double], extra: [(String, String)]) {
        let checksum = theta.reduce(0, +)
        if json {
            print(JSON.object([("case", "\"\(benchCase.rawValue)\""), ("secondsPer\(unit.capitalized)", JSON.number(perUnit)),
                               ("checksum", JSON.number(checksum)), ("result", JSON.vector(theta))] + extra))
        } else {
            let scaled = perUnit < 1e-6 ? String(format: "%.2f ns", perUnit * 1e9)
                : perUnit < 1e-3 ? String(format: "%.2f us", perUnit * 1e6) : String(format: "%.3f ms", perUnit * 1e3)
            print("\(benchCase.rawValue): \(scaled) per \(unit); checksum \(checksum)")
        }
    }
}
