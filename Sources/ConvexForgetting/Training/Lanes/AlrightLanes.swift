/// ALRIGHT runs that differ only in their seed, advanced together four seeds per SIMD vector.
///
/// Each step draws every seed's coin from its own stream (`Xoshiro256StarStar(seed:, stream: 1)`, as the
/// scalar loop does, four streams per vector: `CoinLanes`), then groups the seeds by objective: the DPO seeds
/// and the SFT seeds are each packed four to a `SIMD4<Double>` (a short last pack repeats its last seed, which computes and stores the same
/// value twice), so a lane computes only the gradient its coin chose. Every lane performs exactly the scalar
/// loop's operations in the scalar loop's order (`Kernels.dot`'s four partial sums, `Stable.LogisticTerm`,
/// `Stable.shiftedExponentials`, `Exp.exp` in its vector form, the skipped zero weights, the divergence
/// guard), so each seed's iterates are bit-identical to a run alone. Rows are built by the scalar
/// `Trainer.row` from those iterates. A seed whose update would diverge is handed back (nil) for the scalar
/// loop to run, so its bytes and its `divergedAt` are the scalar ones.
///
/// Valid for ALRIGHT on the full batch of a small instance (the method whose runs differ by seed without
/// batches); everything else runs on the scalar loop (`Trainer.runSeeds` decides).
struct AlrightLanes {
    typealias V = SIMD4<Double>
    let trainer: Trainer
    let spec: RunSpec

    /// ALRIGHT on the full batch of an instance small enough that the scalar loop sums its SFT data in one
    /// pass (large instances sum fixed slices on all cores, in another order, and gain nothing from lanes).
    static func applies(to spec: RunSpec, _ problem: Problem) -> Bool {
        guard case .alright = spec.method, spec.batch == nil else { return false }
        return problem.sft.features.values.count < SFTLoss.parallelThreshold
    }

    /// The runs of `seeds`, each with its recorded rows, or nil for a seed that diverged (run it alone).
    func run(seeds: [UInt64]) -> [(RunResult, [TrajectoryRow])?] {
        let problem = trainer.problem
        let d = problem.dimension
        let count = seeds.count
        let start = spec.start ?? problem.defaultStart
        let lambda = spec.lambda
        let maximumSteps = spec.maximumSteps
        let marginScale: Double = problem.featureBound * Double(d).squareRoot() * max(1, problem.beta)
        let referenceSize: Double = problem.thetaRef.reduce(0.0) { Swift.max($0, Swift.abs($1)) }
        let limit: Double = 1e300 / marginScale - referenceSize
        // The state lives in raw buffers: the step loop below touches no array and no captured variable.
        let theta = UnsafeMutablePointer<Double>.allocate(capacity: count * d)
        let coins = CoinLanes(seeds: seeds, probability: lambda)
        let flags = UnsafeMutablePointer<UInt8>.allocate(capacity: 2 * count)  // last objective DPO; diverged
        let lists = UnsafeMutablePointer<Int>.allocate(capacity: 2 * (count + 3))
        let scratch = UnsafeMutablePointer<V>.allocate(capacity: 3 * d + max(problem.dpo.count, problem.sft.features.offsets[problem.sft.count], 1))
        defer {
            theta.deallocate(); coins.deallocate(); flags.deallocate(); lists.deallocate(); scratch.deallocate()
        }
        for s in 0..<count {
            for k in 0..<d { theta[s * d + k] = start[k] }
        }
        let lastDPO = flags, diverged = flags + count
        flags.initialize(repeating: 0, count: 2 * count)
        let dpoList = lists, sftList = lists + count + 3
        var rows = [[TrajectoryRow]](repeating: [], count: count)
        func record(_ t: Int, _ alpha: Double) {
            for s in 0..<count where diverged[s] == 0 {
                let name = t == 0 ? "init" : (lastDPO[s] != 0 ? "dpo" : "sft")
                rows[s].append(trainer.row(step: t, objective: name, stepSize: alpha,
                                           theta: UnsafeBufferPointer(start: theta + s * d, count: d),
                                           lambda: lambda, gradEvals: t, lossEvals: 0))
            }
        }
        var nextRecord = spec.record.nextStep(after: -1)
        if nextRecord == 0 {
            record(0, 0)
            nextRecord = spec.record.nextStep(after: 0)
        }
        problem.withKernel { kernel in
            var t = 0
            while t < maximumSteps {
                let stop = min(maximumSteps, nextRecord)
                Self.steps(kernel, schedule: spec.schedule, lambda: lambda, from: t + 1, through: stop, count: count,
                           theta, coins, lastDPO, diverged, dpoList, sftList, limit, scratch)
                t = stop
                record(t, spec.schedule.stepSize(t))
                nextRecord = spec.record.nextStep(after: t)
            }
        }
        return (0..<count).map { s in
            guard diverged[s] == 0, let last = rows[s].last else { return nil }
            return (RunResult(final: last, steps: maximumSteps, gradEvals: maximumSteps, lossEvals: 0, divergedAt: nil), rows[s])
        }
    }

    /// Updates first...last of every seed that has not diverged.
    static func steps(_ kernel: Problem.Kernel, schedule: StepSchedule, lambda: Double, from first: Int, through last: Int,
                      count: Int, _ theta: UnsafeMutablePointer<Double>, _ coins: CoinLanes,
                      _ lastDPO: UnsafeMutablePointer<UInt8>, _ diverged: UnsafeMutablePointer<UInt8>,
                      _ dpoList: UnsafeMutablePointer<Int>, _ sftList: UnsafeMutablePointer<Int>, _ limit: Double,
                      _ scratch: UnsafeMutablePointer<V>) {
        guard first <= last else { return }
        for t in first...last {
            let alpha = schedule.stepSize(t)
            var dpoCount = 0, sftCount = 0
            // Without branches: a coin is a fair guess for the branch predictor.
            for b in 0..<coins.blocks {
                let draws = coins.draw(b)
                for lane in 0..<min(4, count - 4 * b) {
                    let s = 4 * b + lane
                    let dpo = draws[lane] ? 1 : 0
                    let live = 1 - Int(diverged[s])
                    lastDPO[s] = UInt8(dpo)
                    dpoList[dpoCount] = s
                    sftList[sftCount] = s
                    dpoCount += dpo & live
                    sftCount += (1 - dpo) & live
                }
            }
            step(kernel, dpo: true, dpoList, dpoCount, theta, alpha, limit, scratch, diverged)
            step(kernel, dpo: false, sftList, sftCount, theta, alpha, limit, scratch, diverged)
        }
    }

    /// One update of the seeds `list[0..<n]` on one objective, four at a time.
    @inline(__always)
    static func step(_ kernel: Problem.Kernel, dpo: Bool, _ list: UnsafeMutablePointer<Int>, _ n: Int,
                     _ theta: UnsafeMutablePointer<Double>, _ alpha: Double, _ limit: Double,
                     _ scratch: UnsafeMutablePointer<V>, _ diverged: UnsafeMutablePointer<UInt8>) {
        guard n > 0 else { return }
        let d = kernel.dimension
        let th = scratch, g = scratch + d, v = scratch + 2 * d, weights = scratch + 3 * d
        var p = 0
        while p < n {
            let s0 = list[p], s1 = list[min(p + 1, n - 1)], s2 = list[min(p + 2, n - 1)], s3 = list[min(p + 3, n - 1)]
            for k in 0..<d {
                th[k] = V(theta[s0 * d + k], theta[s1 * d + k], theta[s2 * d + k], theta[s3 * d + k])
                g[k] = kernel.weightDecay * th[k]
            }
            if dpo { dpoGradient(kernel.dpo, th, g, weights, d) } else { sftGradient(kernel.sft, th, g, weights, d) }
            // The scalar guard: poison = sum v * 0 (NaN for a non-finite coordinate), largest = max |v|.
            var poison = V(), largest = V()
            for k in 0..<d {
                let value = th[k] - alpha * g[k]
                v[k] = value
                poison += value * 0
                let magnitude = Self.abs(value)
                largest = largest.replacing(with: magnitude, where: magnitude .> largest)
            }
            let good = (poison .== 0) .& (largest .<= V(repeating: limit))
            if all(good) {
                for k in 0..<d {
                    let value = v[k]
                    theta[s0 * d + k] = value[0]
                    theta[s1 * d + k] = value[1]
                    theta[s2 * d + k] = value[2]
                    theta[s3 * d + k] = value[3]
                }
                p += 4
                continue
            }
            let seeds = (s0, s1, s2, s3)
            for lane in 0..<4 {
                let s = lane == 0 ? seeds.0 : lane == 1 ? seeds.1 : lane == 2 ? seeds.2 : seeds.3
                if good[lane] {
                    for k in 0..<d { theta[s * d + k] = v[k][lane] }
                } else {
                    diverged[s] = 1
                }
            }
            p += 4
        }
    }

    @inline(__always)
    static func abs(_ x: V) -> V {
        unsafeBitCast(unsafeBitCast(x, to: SIMD4<UInt64>.self) & 0x7FFF_FFFF_FFFF_FFFF, to: V.self)
    }

    /// `Kernels.dot(a, b, n)` in each lane, with its association.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<V>, _ n: Int) -> V {
        var s0 = V(), s1 = V(), s2 = V(), s3 = V()
        var k = 0
        while k + 4 <= n {
            s0 += a[k] * b[k]
            s1 += a[k + 1] * b[k + 1]
            s2 += a[k + 2] * b[k + 2]
            s3 += a[k + 3] * b[k + 3]
            k += 4
        }
        while k < n {
            s0 += a[k] * b[k]
            k += 1
        }
        return (s0 + s1) + (s2 + s3)
    }

    /// `DPOLoss.View.meanOverData` with scale 1 and no value, in each lane. The weights of all data come
    /// first, then each coordinate of the gradient adds them up in the scalar loop's order (datum by datum),
    /// in a register: the same sums, without a store and a load between two terms.
    @inline(__always)
    static func dpoGradient(_ view: DPOLoss.View, _ th: UnsafePointer<V>, _ g: UnsafeMutablePointer<V>,
                            _ weights: UnsafeMutablePointer<V>, _ d: Int) {
        let c = 1 / Double(view.count)
        let weight = -view.beta * c
        for i in 0..<view.count {
            let z = view.beta * (Self.dot(view.dphi + i * d, th, d) - view.margins[i])
            let e = Exp.exp(-Self.abs(z))
            let sigma = V(repeating: 1).replacing(with: e, where: z .>= 0) / (1 + e)
            weights[i] = weight * sigma
        }
        for k in 0..<d {
            var sum = g[k]
            for i in 0..<view.count { sum += weights[i] * view.dphi[i * d + k] }
            g[k] = sum
        }
    }

    /// `SFTLoss.View.meanOverData` with scale 1 and no value, in each lane; weights first, then the sums
    /// coordinate by coordinate, as in `dpoGradient`.
    @inline(__always)
    static func sftGradient(_ view: SFTLoss.View, _ th: UnsafePointer<V>, _ g: UnsafeMutablePointer<V>,
                            _ weights: UnsafeMutablePointer<V>, _ d: Int) {
        let c = 1 / Double(view.count)
        for i in 0..<view.count {
            let first = view.offsets[i]
            let k = view.offsets[i + 1] - first
            let block = view.phi + first * d
            let logits = weights + first
            for j in 0..<k { logits[j] = Self.dot(block + j * d, th, d) }
            // Stable.shiftedExponentials: the first maximum's e^0 = 1 is written, the others exponentiated.
            var largest = V(repeating: -.infinity)
            var top = SIMD4<Int64>(repeating: 0)
            for j in 0..<k {
                let greater = logits[j] .> largest
                largest = largest.replacing(with: logits[j], where: greater)
                top = top.replacing(with: Int64(j), where: unsafeBitCast(greater, to: SIMDMask<SIMD4<Int64>>.self))
            }
            var sum = V()
            for j in 0..<k {
                let e = Exp.exp(logits[j] - largest)
                    .replacing(with: 1, where: unsafeBitCast(top .== Int64(j), to: SIMDMask<SIMD4<Double>.MaskStorage>.self))
                logits[j] = e
                sum += e
            }
            let inverse = c / sum
            let target = view.targets[i]
            // The weight w_j = e_j / sum * c - [j = target] c; a zero weight adds nothing (the scalar loop skips it).
            for j in 0..<k { logits[j] = logits[j] * inverse - (j == target ? c : 0) }
        }
        let outputs = view.offsets[view.count]
        for q in 0..<d {
            var sum = g[q]
            for j in 0..<outputs {
                let w = weights[j]
                sum = sum.replacing(with: sum + w * view.phi[j * d + q], where: w .!= 0)
            }
            g[q] = sum
        }
    }
}
