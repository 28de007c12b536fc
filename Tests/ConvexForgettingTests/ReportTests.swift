import ConvexForgetting
import Foundation
import Testing

/// `forgetting report` refuses to touch what is not its own before any work (the whole report runs in
/// `.ci/run`'s time budget only as `--quick`; the claims it reruns are tested one by one elsewhere).
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
