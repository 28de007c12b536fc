/// One run of a seed sweep: its result and its recorded rows.
public struct SeedRun: Sendable, Equatable {
    public var result: RunResult
    public var rows: [TrajectoryRow]

    public init(result: RunResult, rows: [TrajectoryRow]) {
        self.result = result
        self.rows = rows
    }
}

extension Trainer {
    /// Runs `spec` once per seed of `seeds` (its own seed ignored) on up to `threads` threads and returns
    /// the runs in the order of `seeds`. Where seed lanes apply (ALRIGHT on the full batch, the built-in
    /// method: `AlrightLanes`) the seeds advance four to a vector (small instances; see `AlrightLanes.applies`); elsewhere each seed runs on the scalar
    /// loop. Either way every run's rows are bit-identical to `run(spec)` with that seed alone, whatever
    /// the thread count (the seeds are split into fixed, contiguous groups).
    public func runSeeds(_ spec: RunSpec, seeds: [UInt64], threads: Int = 1, lanes: Bool = true) -> [SeedRun] {
        runSeeds(spec, seeds: seeds, threads: threads, method: .builtIn, lanes: lanes)
    }

    /// As above with the method under test: lanes for the built-in ALRIGHT only; any other rule (a
    /// user's, or a deliberately wrong one in a test) on the scalar loop.
    public func runSeeds(_ spec: RunSpec, seeds: [UInt64], threads: Int, method: MethodUnderTest, lanes: Bool = true) -> [SeedRun] {
        let useLanes = lanes && method.isBuiltIn && AlrightLanes.applies(to: spec, problem)
        let groups = Self.seedGroups(count: seeds.count, threads: threads, lanes: useLanes)
        let trainer = self
        let done = parallelMap(count: groups.count, threads: threads) { g -> [SeedRun] in
            let range = groups[g]
            let chunk = Array(seeds[range])
            func alone(_ seed: UInt64) -> SeedRun {
                var one = spec
                one.seed = seed
                var rows: [TrajectoryRow] = []
                let result = method.run(trainer, one) { rows.append($0) }
                return SeedRun(result: result, rows: rows)
            }
            guard useLanes else { return chunk.map(alone) }
            let laned = AlrightLanes(trainer: trainer, spec: spec).run(seeds: chunk)
            return zip(chunk, laned).map { seed, run in run.map { SeedRun(result: $0.0, rows: $0.1) } ?? alone(seed) }
        }
        return done.flatMap { $0 }
    }

    /// Contiguous groups of seeds: for lanes about `laneGroup` seeds each (at least one group per
    /// thread), near-equal in size; for the scalar loop one seed each.
    static func seedGroups(count: Int, threads: Int, lanes: Bool) -> [Range<Int>] {
        guard count > 0 else { return [] }
        guard lanes else { return (0..<count).map { $0..<($0 + 1) } }
        let groups = min(count, max(max(1, threads), (count + laneGroup - 1) / laneGroup))
        return (0..<groups).map { g in (g * count / groups)..<((g + 1) * count / groups) }
    }

    /// Seeds advanced together by one thread: enough packs of four to hide the latency of each step.
    static let laneGroup = 64
}
