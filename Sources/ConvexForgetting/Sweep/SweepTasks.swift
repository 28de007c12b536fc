/// How a sweep hands out its runs: consecutive runs that differ only in seed (the grid's innermost axis)
/// and that seed lanes can run (`AlrightLanes`) become one task of up to `Trainer.laneGroup` seeds, run
/// together by `Trainer.runSeeds`; every other run is a task of its own. The grouping changes no byte of
/// any run (each lane is bit-identical to its run alone) and does not depend on the thread count.
enum SweepTasks {
    static func group(_ runs: [ExperimentSpec.Run], problems: [Problem]) -> [Range<Int>] {
        var tasks: [Range<Int>] = []
        var i = 0
        while i < runs.count {
            var j = i + 1
            if AlrightLanes.applies(to: runs[i].spec, problems[runs[i].instance]) {
                while j < runs.count, runs[j].instance == runs[i].instance, sameButSeed(runs[j].spec, runs[i].spec) { j += 1 }
            }
            // Near-equal chunks of at most laneGroup seeds.
            let chunks = (j - i + Trainer.laneGroup - 1) / Trainer.laneGroup
            for c in 0..<chunks { tasks.append((i + c * (j - i) / chunks)..<(i + (c + 1) * (j - i) / chunks)) }
            i = j
        }
        return tasks
    }

    static func sameButSeed(_ a: RunSpec, _ b: RunSpec) -> Bool {
        var a = a
        a.seed = b.seed
        return a == b
    }
}
