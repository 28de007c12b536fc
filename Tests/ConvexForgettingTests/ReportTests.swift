import ConvexForgetting
import Foundation
import Testing

/// `forgetting report` refuses to touch what is not its own before any work, and exits 1 when a claim fails
/// (the whole quick report runs in `.ci/run`, after `swift test`; the claims it reruns are tested one by one
/// elsewhere).
@Suite struct ReportTests {
    @Test func reportRefusesForeignOutputsInOneLine() throws {
        let root = try temporaryDirectory()
        let file = root.appendingPathComponent("a-file")
        try "x".write(to: file, atomically: true, encoding: .utf8)
        let folder = root.appendingPathComponent("not-a-report")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try "keep".write(to: folder.appendingPathComponent("mine.txt"), atomically: true, encoding: .utf8)
        for (arguments, words) in [
            (["--out", file.path], "not a folder"),
            (["--out", file.path + "/sub/report"], "not a folder"),
            (["--out", folder.path], "--force"),
            (["--out", folder.path, "--force"], "not a report folder"),
            (["--out", ""], "--out"),
        ] {
            let result = try runCLI(["report"] + arguments + ["--quick"])
            #expect(result.status == 1 && result.stderr.contains(words) && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        }
        // Nothing was touched.
        #expect(try String(contentsOf: folder.appendingPathComponent("mine.txt"), encoding: .utf8) == "keep")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).sorted() == ["a-file", "not-a-report"])
    }

    /// A report over a repository whose shipped instances include a broken one: the setting's claim on it fails,
    /// the report is still written whole (with the passing claim beside it), and the exit status is 1.
    @Test func aFailedClaimFailsTheReport() throws {
        let root = try temporaryDirectory()
        let repository = root.appendingPathComponent("repo")
        let instances = repository.appendingPathComponent("Experiments/instances")
        try FileManager.default.createDirectory(at: instances, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: repository.appendingPathComponent("Plots"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("Experiments/instances/lower-bound.json"),
                                         to: instances.appendingPathComponent("lower-bound.json"))
        try "{\"name\": \"broken\"".write(to: instances.appendingPathComponent("broken.json"), atomically: true, encoding: .utf8)
        let out = root.appendingPathComponent("report")
        let result = try runCLI(["report", "--out", out.path, "--only", "setting", "--quick"], in: repository)
        #expect(result.status == 1, "\(result.stderr)")
        let last = result.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.contains("report: 1 of 2 verdicts failed: setting-broken"), "\(result.stderr)")
        let verdicts = try String(contentsOf: out.appendingPathComponent("verdicts.json"), encoding: .utf8)
        #expect(verdicts.contains("\"id\": \"setting-broken\"") && verdicts.contains("\"verdict\": \"failed\""))
        #expect(verdicts.contains("\"id\": \"setting-lower-bound\"") && verdicts.contains("\"verdict\": \"passed\""))
        #expect(!verdicts.contains("figure2"))
        // An unknown section is refused before any work.
        let unknown = try runCLI(["report", "--out", root.appendingPathComponent("other").path, "--only", "setting,figure5"], in: repository)
        #expect(unknown.status == 1 && unknown.stderr.contains("figure5") && unknown.stderr.split(separator: "\n").count == 1, "\(unknown.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("other").path))
    }

    /// `verify mutants` is the mutation suite from the command line: its table names every wrong method of
    /// the library's catalogue as rejected and every built-in method as passing.
    @Test func verifyMutantsRejectsTheCatalogue() throws {
        let root = try temporaryDirectory()
        let csv = root.appendingPathComponent("mutants.csv").path
        let result = try runCLI(["verify", "mutants", "--quick", "--csv", csv])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(lines.count == WrongMethods.all.count + 3)
        #expect(lines.allSatisfy { $0.hasSuffix(",true") })
        for wrong in WrongMethods.all { #expect(result.stdout.contains(wrong.id)) }
    }
}
