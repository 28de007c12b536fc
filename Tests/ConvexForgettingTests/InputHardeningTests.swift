import ConvexForgetting
import Foundation
import PropertyBased
import Testing

/// No crash, no hang, no silent loss, whatever the input: the readers of .npy arrays and of JSON/YAML files
/// refuse what is not a regular file before they could block on it, check every size in a header against the
/// real file before they allocate, and say what is wrong in one line naming the file.
@Suite struct InputHardeningTests {
    // MARK: - .npy: what is not a regular file

    @Test func npyRefusesADirectoryAFIFOAndADevice() throws {
        let directory = try temporaryDirectory()
        let folder = directory.appendingPathComponent("x.npy").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        let fifo = directory.appendingPathComponent("fifo.npy").path
        #expect(mkfifo(fifo, 0o644) == 0)
        let cases = [(folder, "is a directory, not a .npy file"), (fifo, "is not a regular file (it is a FIFO)"),
                     ("/dev/null", "is not a regular file (it is a character device)"),
                     (directory.appendingPathComponent("absent.npy").path, "cannot open (No such file or directory)")]
        for (path, message) in cases {
            // A FIFO with no writer would block an open or a read forever: the deadline catches that.
            let outcomes = try #require(withDeadline(2) { [readDoublesOutcome(path), readIntegersOutcome(path)] }, "\(path) hung")
            for outcome in outcomes { #expect(outcome == .failed(path: path, message: message)) }
        }
    }

    @Test func cliRefusesAFIFOInAnInstanceDirectory() throws {
        let directory = try npyInstanceDirectory()
        let fifo = directory + "/dpo_features.npy"
        try FileManager.default.removeItem(atPath: fifo)
        #expect(mkfifo(fifo, 0o644) == 0)
        let result = try #require(try runCLI(["check", "--instance", directory, "--points", "2"], timeout: 10), "the CLI hung on a FIFO")
        #expect(result.status == 1)
        let line = result.stderr.split(separator: "\n").first { !$0.isEmpty } ?? ""
        #expect(line.contains("dpo_features.npy: is not a regular file (it is a FIFO)"), "\(result.stderr)")
    }

    // MARK: - .npy: sizes checked against the file before allocating

    @Test func npyHeaderSizesAreCheckedAgainstTheFile() throws {
        let body = bytes(of: [1.0, 2.0, 3.0])
        var pastTheEnd = NPYParts(shape: "(3,)", body: body)
        pastTheEnd.headerLength = 60_000
        var pastTheEnd2 = NPYParts(shape: "(3,)", body: body)
        pastTheEnd2.version = 2
        pastTheEnd2.headerLength = 0xFFFF_FFFF
        let cases: [(NPYParts, String)] = [
            (pastTheEnd, "header length 60000 runs past the end of the file (\(pastTheEnd.bytes.count) bytes)"),
            (pastTheEnd2, "header length 4294967295 runs past the end of the file (\(pastTheEnd2.bytes.count) bytes)"),
            (NPYParts(shape: "(1099511627776, 1099511627776)"), "shape [1099511627776, 1099511627776] is too large"),
            // The count fits, the byte count does not.
            (NPYParts(shape: "(4611686018427387904,)"), "shape [4611686018427387904] is too large"),
            // A zero anywhere does not excuse an overflowing product of the other dimensions.
            (NPYParts(shape: "(0, 4294967296, 4294967296)"), "shape [0, 4294967296, 4294967296] is too large"),
            (NPYParts(shape: "(3, 99999999999999999999999)"), "shape entry 99999999999999999999999 is too large"),
            (NPYParts(shape: "(3, -2)"), "shape [3, -2] has a negative dimension -2"),
            (NPYParts(shape: "(4,)", body: body), "truncated: holds 24 data bytes but its shape [4] needs 32"),
            (NPYParts(shape: "(2,)", body: body), "has more data than its shape says: holds 24 data bytes but its shape [2] needs 16"),
            (NPYParts(shape: "(0,)", body: body), "has more data than its shape says: holds 24 data bytes but its shape [0] needs 0"),
        ]
        for (parts, message) in cases {
            let path = try writeNPY(parts)
            #expect(readDoublesOutcome(path) == .failed(path: path, message: message))
        }
        // The shape is checked against the element size of the dtype read: 3 int32 are 12 bytes.
        let path = try writeNPY(NPYParts(descr: "<i4", shape: "(3,)", body: body))
        #expect(readIntegersOutcome(path) == .failed(path: path, message: "has more data than its shape says: holds 24 data bytes but its shape [3] needs 12"))
    }

    @Test func npyHeaderKeysAreRequiredAndChecked() throws {
        let body = bytes(of: [1.0, 2.0, 3.0])
        let cases: [(String, String)] = [
            ("{'descr': '<f8', 'shape': (3,), }", "header has no 'fortran_order'"),
            ("{'descr': '<f8', 'fortran_order': True, 'shape': (3,), }", "Fortran-ordered arrays are not supported (save with C order)"),
            ("{'descr': '<f8', 'fortran_order': 0, 'shape': (3,), }", "malformed header (unsupported value at byte 34)"),
            ("{'descr': '<f8', 'fortran_order': 'False', 'shape': (3,), }", "header's 'fortran_order' is not True or False"),
            ("{'fortran_order': False, 'shape': (3,), }", "header has no 'descr'"),
            ("{'descr': '<f8', 'fortran_order': False, }", "header has no 'shape'"),
            ("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (3,), }", "malformed header (unsupported value at byte 10)"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'extra': 'x', }", "header has an unknown key 'extra'"),
            ("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", "header repeats the key 'descr'"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (3), }", "malformed header (a one-dimensional shape needs a trailing comma at byte 52)"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape':)", "malformed header (unsupported value at byte 49)"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), } x", "malformed header (unexpected text after the dictionary at byte 58)"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), ", "malformed header (expected a quoted string at the end of the header (byte 118))"),
            ("{'descr': '<f\n8', 'fortran_order': False, 'shape': (3,), }", "malformed header (unsupported character in a string at byte 13)"),
            ("{'descr': '<f\u{7F}8', 'fortran_order': False, 'shape': (3,), }", "dtype '<f\\u{7F}8' is not float64 little-endian ('<f8')"),
            ("", "malformed header (expected '{' at the end of the header (byte 54))"),
        ]
        for (text, message) in cases {
            let path = try writeNPY(NPYParts(headerText: text, body: body))
            #expect(readDoublesOutcome(path) == .failed(path: path, message: message), "\(text)")
        }
    }

    @Test func npyPrefixDefectsAreNamed() throws {
        let good = NPYParts(shape: "(3,)", body: bytes(of: [1.0, 2.0, 3.0])).bytes
        var badMagic = good
        badMagic[3] ^= 0x20
        var version = good
        version[6] = 7
        let cases: [([UInt8], String)] = [
            ([], "not a .npy file (bad magic)"), (Array(good.prefix(5)), "not a .npy file (bad magic)"),
            (badMagic, "not a .npy file (bad magic)"), (Array(good.prefix(8)), "truncated header"),
            (version, "unsupported .npy version 7"),
            (Array(good.prefix(40)), "header length 118 runs past the end of the file (40 bytes)"),
        ]
        for (data, message) in cases {
            let path = try writeNPY(data)
            #expect(readDoublesOutcome(path) == .failed(path: path, message: message))
        }
    }

    /// What NumPy writes still reads: versions 1 to 3, Python 2's `3L`, double quotes, any key order, 0-d
    /// and empty arrays, int32.
    @Test func npyValidVariantsRead() throws {
        let values = [1.5, -2.0, 0.25, 8.0, 1e-300, -0.0]
        for version: UInt8 in [1, 2, 3] {
            var parts = NPYParts(shape: "(2, 3)", body: bytes(of: values))
            parts.version = version
            let read = try NPY.readDoubles(try writeNPY(parts))
            #expect(read.values.map(\.bitPattern) == values.map(\.bitPattern) && read.shape == [2, 3])
        }
        let reordered = NPYParts(headerText: "{\"shape\": (2L, 3L), \"fortran_order\": False, \"descr\": \"<f8\"}", body: bytes(of: values))
        #expect(try NPY.readDoubles(try writeNPY(reordered)).shape == [2, 3])
        let scalar = try NPY.readDoubles(try writeNPY(NPYParts(shape: "()", body: bytes(of: [4.0]))))
        #expect(scalar.values == [4.0] && scalar.shape == [])
        let empty = try NPY.readDoubles(try writeNPY(NPYParts(shape: "(0, 5)")))
        #expect(empty.values.isEmpty && empty.shape == [0, 5])
        let int32 = NPYParts(descr: "<i4", shape: "(3,)", body: [Int32(-1), 7, Int32.max].flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) })
        #expect(try NPY.readIntegers(try writeNPY(int32)).values == [-1, 7, Int(Int32.max)])
    }

    /// Empty feature arrays do not bound the number of inputs: [2^40, 0, 4] must be refused before 2^40
    /// offsets are built.
    @Test func npyInstanceRefusesEmptyFeatureArraysWithHugeCounts() throws {
        let cases: [(String, [Int], String)] = [
            ("dpo_features", [1 << 40, 0, 4], "shape [1099511627776, 0, 4]: every input needs at least 2 outputs, got 0"),
            ("sft_features", [1 << 40, 3, 0], "shape [1099511627776, 3, 0]: feature vectors must have at least one entry"),
        ]
        for (name, shape, message) in cases {
            let directory = try npyInstanceDirectory()
            try NPY.write([Double](), shape: shape, to: directory + "/\(name).npy")
            let error = try #require(throws: FieldError.self) { try InstanceLoader.load(path: directory) }
            #expect(error == FieldError(file: directory + "/\(name).npy", path: "", message: message))
        }
    }

    // MARK: - JSON and YAML files

    @Test func schemaFilesMustBeRegularFiles() throws {
        let directory = try temporaryDirectory()
        let fifo = directory.appendingPathComponent("instance.json").path
        #expect(mkfifo(fifo, 0o644) == 0)
        let yamlFIFO = directory.appendingPathComponent("experiment.yaml").path
        #expect(mkfifo(yamlFIFO, 0o644) == 0)
        let folder = directory.appendingPathComponent("folder.json").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        let cases: [(String, String, Bool)] = [
            (fifo, "is not a regular file (it is a FIFO)", false), (yamlFIFO, "is not a regular file (it is a FIFO)", true),
            ("/dev/null", "is not a regular file (it is a character device)", false),
            ("/dev/zero", "is not a regular file (it is a character device)", true),
            (folder, "is a directory, not a file", false),
        ]
        for (path, message, yaml) in cases {
            let error = try #require(withDeadline(2) { () -> FieldError? in
                do throws(FieldError) {
                    if yaml { _ = try ExperimentSpec.load(path: path) } else { _ = try InstanceFile.load(path: path) }
                    return nil
                } catch { return error }
            }, "\(path) hung")
            #expect(error == FieldError(file: path, path: "", message: message))
        }
        // The instance.json of an .npy directory goes through the same reader.
        let npy = try npyInstanceDirectory()
        try FileManager.default.removeItem(atPath: npy + "/instance.json")
        #expect(mkfifo(npy + "/instance.json", 0o644) == 0)
        let result = try #require(try runCLI(["check", "--instance", npy, "--points", "2"], timeout: 10), "the CLI hung on a FIFO")
        #expect(result.status == 1)
        let line = result.stderr.split(separator: "\n").first { !$0.isEmpty } ?? ""
        #expect(line.contains("instance.json: is not a regular file (it is a FIFO)"), "\(result.stderr)")
    }

    @Test func byteOrderMarksAreSkipped() throws {
        let directory = try temporaryDirectory()
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("Experiments/instances/example.json"), encoding: .utf8)
        let plain = directory.appendingPathComponent("plain.json").path
        let marked = directory.appendingPathComponent("marked.json").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: plain))
        try Data([0xEF, 0xBB, 0xBF] + Array(text.utf8)).write(to: URL(fileURLWithPath: marked))
        #expect(try InstanceFile.load(path: marked) == InstanceFile.load(path: plain))

        let instance = directory.appendingPathComponent("instances/example.json")
        try FileManager.default.createDirectory(at: instance.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: instance)
        let yaml = "name: marked\ninstances: [instances/example.json]\nmethods: [alright]\nlambdas: [0.5]\nsteps: [10]\nseeds: [0]\nschedules: [{name: constant, rate: 0.1}]\n"
        let yamlPlain = directory.appendingPathComponent("plain.yaml").path
        let yamlMarked = directory.appendingPathComponent("marked.yaml").path
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: yamlPlain))
        try Data([0xEF, 0xBB, 0xBF] + Array(yaml.utf8)).write(to: URL(fileURLWithPath: yamlMarked))
        let spec = try ExperimentSpec.load(path: yamlMarked)
        #expect(spec == (try ExperimentSpec.load(path: yamlPlain)) && spec.name == "marked")

        // A mark in the middle is not skipped, and non-UTF-8 YAML is still named as such.
        let middle = directory.appendingPathComponent("middle.json").path
        try Data(Array("  ".utf8) + [0xEF, 0xBB, 0xBF] + Array(text.utf8)).write(to: URL(fileURLWithPath: middle))
        let error = try #require(throws: FieldError.self) { try InstanceFile.load(path: middle) }
        #expect(error.file == middle && error.message.hasPrefix("malformed JSON at line 1, column 3"))
        let latin1 = directory.appendingPathComponent("latin1.yaml").path
        try Data([0x6E, 0x61, 0x6D, 0x65, 0x3A, 0x20, 0xE9, 0x0A]).write(to: URL(fileURLWithPath: latin1))
        #expect(throws: FieldError(file: latin1, path: "", message: "is not UTF-8 text")) { try ExperimentSpec.load(path: latin1) }
    }

    @Test func filesAboveOneGiBAreRefusedUnread() throws {
        let path = try temporaryDirectory().appendingPathComponent("huge.json").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data("{".utf8)))
        // A sparse file: its size costs no disk and, refused by size, no memory either.
        #expect(truncate(path, (1 << 30) + 1) == 0)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = try #require(withDeadline(2) { () -> FieldError? in
            do throws(FieldError) { _ = try InstanceFile.load(path: path); return nil } catch { return error }
        })
        #expect(error == FieldError(file: path, path: "", message: "is 1073741825 bytes; input files are limited to 1 GiB"))
    }

    // MARK: - Feature norms without overflow or underflow

    /// The expected norms are the correctly rounded ones (Python's math.hypot agrees).
    @Test func featureNormsAreExactBeyondTheSquaresRange() throws {
        let cases: [([Double], Double, String)] = [
            // sqrt(2) 1e200, which Swift prints in its shortest form (1.4142135623730951e+200 is the same double).
            ([1e200, 1e200], 1, "has norm 1.414213562373095e+200 above featureBound 1.0 (Assumption 3.2)"),
            ([3e200, -4e200], 1e300, ""),
            ([-1e-170, 0], 1e-200, "has norm 1e-170 above featureBound 1e-200 (Assumption 3.2)"),
            ([3e-170, 4e-170], 4.9e-170, "has norm 5e-170 above featureBound 4.9e-170 (Assumption 3.2)"),
            ([3e-170, 4e-170], 5e-170, ""),
        ]
        #expect(Double("1.4142135623730951e+200") == 1.414213562373095e+200)
        for (vector, bound, message) in cases {
            let build = { () throws -> Instance in
                try makeInstance(dpo: [([vector, [0, 0]], 0, 1)], sft: [([[0, 0], [0, 0]], 0)], bound: bound)
            }
            if message.isEmpty {
                #expect(throws: Never.self) { try build() }
            } else {
                #expect(throws: FieldError(path: "dpo[0].features[0]", message: message)) { try build() }
            }
        }
    }
}

// MARK: - .npy files, whole or damaged

/// The parts of a .npy file, each of which a test may set to anything.
private struct NPYParts {
    var magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    var version: UInt8 = 1
    var descr = "<f8"
    var fortranOrder: String? = "False"
    var shape = "(3,)"
    /// The whole dictionary text instead of the one built from the three fields above.
    var headerText: String?
    /// The length written in the prefix instead of the real one.
    var headerLength: Int?
    var body: [UInt8] = []

    init(descr: String = "<f8", shape: String = "(3,)", headerText: String? = nil, body: [UInt8] = []) {
        self.descr = descr
        self.shape = shape
        self.headerText = headerText
        self.body = body
    }

    var dictionary: String {
        headerText ?? "{'descr': '\(descr)', " + (fortranOrder.map { "'fortran_order': \($0), " } ?? "") + "'shape': \(shape), }"
    }

    /// The prefix length: 10 bytes with a 2-byte header length (version 1 and unknown versions), else 12.
    var prefixLength: Int { version == 2 || version == 3 ? 12 : 10 }

    /// The header as NumPy pads it: spaces and a newline up to a multiple of 64 bytes with the prefix.
    var paddedHeader: [UInt8] {
        let text = Array(dictionary.utf8)
        let padding = (64 - (prefixLength + text.count + 1) % 64) % 64
        return text + [UInt8](repeating: 0x20, count: padding) + [0x0A]
    }

    var bytes: [UInt8] {
        let header = paddedHeader
        let length = UInt64(truncatingIfNeeded: headerLength ?? header.count)
        let lengthBytes = (0..<(prefixLength - 8)).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) }
        return magic + [version, 0] + lengthBytes + header + body
    }
}

private func bytes(of values: [Double]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }

/// Writes a file into a fresh temporary directory and returns its path.
private func writeNPY(_ parts: NPYParts) throws -> String { try writeNPY(parts.bytes) }

private func writeNPY(_ data: [UInt8]) throws -> String {
    let path = try temporaryDirectory().appendingPathComponent("array.npy").path
    try Data(data).write(to: URL(fileURLWithPath: path))
    return path
}

/// What a reader did with a file, comparable and sendable across the deadline thread.
private enum ReadOutcome: Equatable, Sendable {
    case read(count: Int, shape: [Int])
    case failed(path: String, message: String)
}

private func readDoublesOutcome(_ path: String) -> ReadOutcome {
    do {
        let (values, shape) = try NPY.readDoubles(path)
        return .read(count: values.count, shape: shape)
    } catch { return .failed(path: error.path, message: error.message) }
}

private func readIntegersOutcome(_ path: String) -> ReadOutcome {
    do {
        let (values, shape) = try NPY.readIntegers(path)
        return .read(count: values.count, shape: shape)
    } catch { return .failed(path: error.path, message: error.message) }
}

/// A small valid instance as a directory of .npy arrays.
private func npyInstanceDirectory() throws -> String {
    let instance = try Instance.random(RandomInstanceSpec(dimension: 3, outputs: 3, dpoCount: 4, sftCount: 5, beta: 0.5, seed: 11))
    let directory = try temporaryDirectory().appendingPathComponent("inst").path
    try NPYInstance.write(instance, to: directory)
    return directory
}

// MARK: - Deadlines

/// Runs `body` on a thread of its own (8 MiB of stack, as a main thread has) and returns its result, or nil
/// when it has not returned within `seconds` (the thread is then left behind).
private func withDeadline<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () -> T) -> T? {
    let box = DeadlineBox<T>()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        let value = body()
        box.lock.withLock { box.value = value }
        done.signal()
    }
    thread.stackSize = 8 << 20
    thread.start()
    guard done.wait(timeout: .now() + seconds) == .success else { return nil }
    return box.lock.withLock { box.value }
}

private final class DeadlineBox<T>: @unchecked Sendable {
    let lock = NSLock()
    var value: T?
}

/// Runs the `forgetting` executable; nil when it has not exited within `timeout` seconds (it is then killed).
private func runCLI(_ arguments: [String], timeout: Double) throws -> CLIResult? {
    let directory = try temporaryDirectory()
    let out = directory.appendingPathComponent("stdout"), err = directory.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
    let process = Process()
    process.executableURL = forgettingExecutable()
    process.arguments = arguments
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    try process.run()
    guard exited.wait(timeout: .now() + timeout) == .success else {
        process.terminate()
        process.waitUntilExit()
        return nil
    }
    process.waitUntilExit()
    return CLIResult(status: process.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
                     stderr: try String(contentsOf: err, encoding: .utf8))
}
