@testable import ConvexForgetting
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

    @Test func filesAbove256MiBAreRefusedUnread() throws {
        let path = try temporaryDirectory().appendingPathComponent("huge.json").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data("{".utf8)))
        // A sparse file: its size costs no disk and, refused by size, no memory either.
        #expect(truncate(path, (256 << 20) + 1) == 0)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = try #require(withDeadline(2) { () -> FieldError? in
            do throws(FieldError) { _ = try InstanceFile.load(path: path); return nil } catch { return error }
        })
        #expect(error == FieldError(file: path, path: "", message: "is 268435457 bytes; JSON and YAML inputs are limited to 256 MiB (write large instances as .npy directories)"))
    }

    // MARK: - Feature norms without overflow or underflow

    /// The expected norms are the correctly rounded ones (Python's math.hypot agrees).
    @Test func featureNormsAreExactBeyondTheSquaresRange() throws {
        let cases: [([Double], Double, String)] = [
            // sqrt(2) 1e200, which Swift prints in its shortest form (1.4142135623730951e+200 is the same double).
            ([1e200, 1e200], 1, "has norm 1.414213562373095e+200 above featureBound 1.0 (Assumption 3.2)"),
            ([3e-50, -4e-50], 5e-50, ""),
            ([3e-50, 4e-50], 4.9e-50, "has norm 5e-50 above featureBound 4.9e-50 (Assumption 3.2)"),
        ]
        // Bounds outside [1e-50, 1e50] are refused by themselves now; the norm itself stays exact there.
        #expect(close(Instance.scaledNorm([3e200, -4e200][...]), 5e200, 1e-15))
        #expect(Instance.scaledNorm([-1e-170, 0][...]) == 1e-170)
        #expect(Instance.scaledNorm([3e-170, 4e-170][...]) == 5e-170)
        #expect(throws: FieldError.self) { try makeInstance(dpo: [([[1, 0], [0, 0]], 0, 1)], sft: [([[0, 0], [0, 0]], 0)], bound: 1e300) }
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

    // MARK: - Fuzzing

    /// Malformed .npy files of every kind through both readers: each is refused with a one-line message
    /// naming the file (and the defect, where it is known), within 2 seconds.
    @Test func malformedNPYFilesAreRefused() async throws {
        let directory = try temporaryDirectory()
        await propertyCheck(count: 300, input: NPYCase.generator) { fuzz in
            let path = directory.appendingPathComponent("case.npy").path
            try Data(fuzz.file().bytes).write(to: URL(fileURLWithPath: path))
            let outcomes = try #require(withDeadline(2) { [readDoublesOutcome(path), readIntegersOutcome(path)] }, "\(fuzz) hung")
            for (outcome, integers) in zip(outcomes, [false, true]) {
                let reasons = fuzz.reasons(integers: integers)
                guard case .failed(let failedPath, let message) = outcome else {
                    Issue.record("\(fuzz) was read")
                    continue
                }
                #expect(failedPath == path)
                #expect(!message.isEmpty && !message.contains("\n"), "\(fuzz): \(message)")
                #expect(reasons.isEmpty || reasons.contains { message.contains($0) }, "\(fuzz): \(message), expected one of \(reasons)")
            }
        }
    }

    /// The same files as arrays of an instance directory: `forgetting check` exits 1, its first line names
    /// the file and the defect, within 2 seconds.
    @Test func malformedNPYFilesAreRefusedByTheCLI() async throws {
        let directory = try npyInstanceDirectory()
        let slots = ["dpo_features", "dpo_chosen", "dpo_rejected", "sft_features", "sft_targets"]
        let originals = try slots.map { try Data(contentsOf: URL(fileURLWithPath: directory + "/\($0).npy")) }
        await propertyCheck(count: 60, input: NPYCase.generator, Gen.int(in: 0...4)) { fuzz, slot in
            let name = slots[slot] + ".npy"
            let reasons = fuzz.reasons(integers: !name.contains("features"))
            try Data(fuzz.file().bytes).write(to: URL(fileURLWithPath: directory + "/" + name))
            defer { try? originals[slot].write(to: URL(fileURLWithPath: directory + "/" + name)) }
            let result = try #require(try runCLI(["check", "--instance", directory, "--points", "2"], timeout: 2), "\(fuzz) in \(name) hung")
            #expect(result.status == 1, "\(fuzz) in \(name): \(result.stderr)")
            let line = result.stderr.split(separator: "\n").first { !$0.isEmpty } ?? ""
            #expect(line.contains(directory + "/" + name + ": "), "\(fuzz) in \(name): \(result.stderr)")
            #expect(reasons.isEmpty || reasons.contains { line.contains($0) }, "\(fuzz) in \(name): \(line), expected one of \(reasons)")
        }
    }

    /// Malformed instance JSON: truncations, appended text, wrong types, huge numbers and deep nesting are
    /// each refused with the expected field and message; random byte flips are refused or decode to an
    /// instance that round-trips. Never a crash, never more than 2 seconds.
    @Test func malformedInstanceJSONIsRefused() async throws {
        await propertyCheck(count: 400, input: JSONCase.generator) { fuzz in
            let (text, expected) = fuzz.document()
            let outcome = try #require(withDeadline(2) { () -> Result<Instance, FieldError> in
                do throws(FieldError) { return .success(try InstanceFile.decode(Data(text))) } catch { return .failure(error) }
            }, "\(fuzz) hung")
            switch (outcome, expected) {
            case (.failure(let error), .refused(let path, let message)):
                #expect(error.file == nil && error.path.hasPrefix(path) && (message.isEmpty || error.message.contains(message)),
                        "\(fuzz): \(error), expected \(path): \(message)")
                #expect(!error.description.contains("\n"), "\(fuzz): \(error)")
            case (.failure(let error), .either):
                #expect(!error.message.isEmpty && !error.message.contains("\n"), "\(fuzz): \(error)")
                if error.path.contains("\n") {
                    // A letter of a key flipped to a backslash makes an escape (`"featureBo\nd"`): an unknown key
                    // holding a newline, which the error's path shows escaped, so that the message is one line.
                    #expect(!error.path.contains("\n"), "\(fuzz): \(error)")
                }
            case (.success(let instance), .either):
                #expect(try InstanceFile.decode(Data(InstanceFile.encode(instance).utf8)) == instance, "\(fuzz)")
            case (.success, .refused(let path, let message)):
                Issue.record("\(fuzz) was accepted, expected \(path): \(message)")
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

/// splitmix64: the bytes of a generated case, reproducible from its seed.
private struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    /// Which of the five kinds of shape damage a case of this seed does (drawn apart from its other bytes).
    static func shapeDamage(_ seed: UInt64) -> Int { Int((seed >> 59) % 5) }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

/// One malformed .npy file: a valid array (dtype, shape, random body) with exactly one defect, each kind of
/// which makes both readers fail. `file()` gives the bytes and the message fragments one of which the
/// failure must contain (none: any failure).
private struct NPYCase: CustomStringConvertible, Sendable {
    enum Defect: CaseIterable, Sendable {
        case magic, version, headerLength, descr, shape, fortranOrder, cutHeader, flippedHeaderByte, truncatedBody,
             extendedBody, shortFile, garbage
    }

    var defect: Defect
    var descr: String
    var shape: [Int]
    var version: UInt8
    var seed: UInt64
    var text: String

    static let generator = zip(
        Gen.element(of: Defect.allCases), Gen.element(of: ["<f8", "<i8", "<i4"]), Gen.int(in: 1...4).array(of: 0...3),
        Gen.int(in: 1...3), Gen.int(in: Int.min...Int.max), Gen.character(in: " "..."~").string(of: 0...12)
    ).map { defect, descr, shape, version, seed, text in
        NPYCase(defect: defect!, descr: descr!, shape: shape, version: UInt8(version), seed: UInt64(bitPattern: Int64(seed)), text: text)
    }

    var description: String { "\(defect) of a \(descr) \(shape) version \(version) array (seed \(seed), text \(text.debugDescription))" }

    static func python(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    static func describe(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }

    /// Whether the defect is found only after the dtype: a reader of another dtype says so instead.
    var foundAfterTheDtype: Bool {
        switch defect {
        case .truncatedBody, .extendedBody: true
        // Shapes that are well-formed but do not fit the data (the last two kinds of shape damage).
        case .shape: SplitMix.shapeDamage(seed) >= 3
        default: false
        }
    }

    /// The reasons one of which the failure of a reader of integers (or float64) must contain.
    func reasons(integers: Bool) -> [String] {
        let reasons = file().reasons
        let fits = integers ? descr != "<f8" : descr == "<f8"
        return fits || !foundAfterTheDtype ? reasons : ["dtype '\(descr)' is not"]
    }

    func file() -> (bytes: [UInt8], reasons: [String]) {
        var random = SplitMix(state: seed)
        let itemSize = descr == "<i4" ? 4 : 8
        let count = shape.reduce(1, *)
        var parts = NPYParts(descr: descr, shape: Self.python(shape), body: random.bytes(count * itemSize))
        parts.version = version
        switch defect {
        case .magic:
            parts.magic[random.below(6)] ^= UInt8(1 + random.below(255))
            return (parts.bytes, ["not a .npy file (bad magic)"])
        case .version:
            parts.version = UInt8(truncatingIfNeeded: random.next())
            if (1...3).contains(parts.version) { parts.version += 3 }
            return (parts.bytes, ["unsupported .npy version \(parts.version)"])
        case .headerLength:
            let real = parts.paddedHeader.count
            let limit = parts.prefixLength == 10 ? 0xFFFF : 0xFFFF_FFFF
            var length = random.below(limit + 1)
            if length == real { length = real + 1 }
            parts.headerLength = length
            let size = parts.bytes.count
            // A longer length that stays in the file takes data into the header, a shorter one leaves header
            // bytes as data: either is refused, for one reason or another.
            return (parts.bytes, length > size - parts.prefixLength ? ["header length \(length) runs past the end of the file (\(size) bytes)"] : [])
        case .descr:
            var descr = text.filter { $0 != "'" && $0 != "\\" }
            if ["<f8", "<i8", "<i4"].contains(descr) { descr += "x" }
            if random.below(4) == 0 {
                // A control character: the string itself is malformed.
                descr.insert(Character(Unicode.Scalar(UInt8(random.below(32)))), at: descr.index(descr.startIndex, offsetBy: random.below(descr.count + 1)))
                parts.descr = descr
                return (parts.bytes, ["malformed header (unsupported character in a string"])
            }
            parts.descr = descr
            return (parts.bytes, ["dtype '\(descr)' is not"])
        case .shape:
            var dims = shape.map(String.init)
            let at = random.below(dims.count + 1)
            switch SplitMix.shapeDamage(seed) {
            case 0:
                let negative = -(1 + random.below(1_000_000))
                dims.insert(String(negative), at: at)
                parts.shape = Self.python(shape) == "()" ? "(\(negative),)" : "(" + dims.joined(separator: ", ") + ")"
                return (parts.bytes, ["has a negative dimension \(negative)"])
            case 1:
                dims.insert(String(repeating: "9", count: 19 + random.below(40)), at: at)
                parts.shape = "(" + dims.joined(separator: ", ") + ",)"
                return (parts.bytes, ["is too large"])
            case 2:
                let huge = [(1 << 32) + random.below(1 << 20), (1 << 32) + random.below(1 << 20)]
                let new = Array(shape[..<at]) + huge + Array(shape[at...])
                parts.shape = Self.python(new)
                return (parts.bytes, ["shape \(Self.describe(new)) is too large"])
            case 3:
                let new = Array(shape[..<at]) + [0, (1 << 40) + random.below(1 << 20)] + Array(shape[at...])
                parts.shape = Self.python(new)
                return (parts.bytes, ["has more data than its shape says: holds \(parts.body.count) data bytes but its shape \(Self.describe(new)) needs 0"])
            default:
                var new = shape.isEmpty ? [1] : shape
                new[random.below(new.count)] += 1 + random.below(1000)
                parts.shape = Self.python(new)
                return (parts.bytes, ["truncated: holds \(parts.body.count) data bytes but its shape \(Self.describe(new)) needs \(new.reduce(1, *) * itemSize)"])
            }
        case .fortranOrder:
            switch random.below(3) {
            case 0:
                parts.fortranOrder = nil
                return (parts.bytes, ["header has no 'fortran_order'"])
            case 1:
                parts.fortranOrder = "True"
                return (parts.bytes, ["Fortran-ordered arrays are not supported"])
            default:
                parts.fortranOrder = ["0", "1", "false", "None", "'False'", "()", "Truth", "F"][random.below(8)]
                return (parts.bytes, ["malformed header", "header's 'fortran_order' is not True or False"])
            }
        case .cutHeader:
            let text = parts.dictionary
            parts.headerText = String(text.prefix(random.below(text.count - 1)))
            return (parts.bytes, ["malformed header"])
        case .flippedHeaderByte:
            // Any byte of the dictionary but whitespace and the dtype's own letters (changing <f8 to <i8
            // makes another valid file) becomes any other byte but whitespace.
            var header = parts.paddedHeader
            let dictionary = Array(parts.dictionary.utf8)
            let descrStart = dictionary.count >= 11 ? 11 : 0
            let candidates = dictionary.indices.filter {
                ![0x20, 0x09, 0x0A, 0x0D].contains(dictionary[$0]) && !(descrStart..<(descrStart + descr.utf8.count)).contains($0)
            }
            let at = candidates[random.below(candidates.count)]
            var replacement = UInt8(truncatingIfNeeded: random.next())
            while replacement == header[at] || [0x20, 0x09, 0x0A, 0x0D].contains(replacement) { replacement &+= 1 }
            header[at] = replacement
            let prefix = Array(parts.bytes.prefix(parts.prefixLength))
            return (prefix + header + parts.body, [])
        case .truncatedBody:
            let kept = random.below(parts.body.count)
            parts.body = Array(parts.body.prefix(kept))
            return (parts.bytes, ["truncated: holds \(kept) data bytes"])
        case .extendedBody:
            parts.body += random.bytes(1 + random.below(64))
            return (parts.bytes, ["has more data than its shape says: holds \(parts.body.count) data bytes"])
        case .shortFile:
            let all = parts.bytes
            let kept = random.below(parts.prefixLength + parts.paddedHeader.count)
            let reason = kept < 6 ? "not a .npy file (bad magic)"
                : kept < parts.prefixLength ? "truncated header"
                : "header length \(parts.paddedHeader.count) runs past the end of the file (\(kept) bytes)"
            return (Array(all.prefix(kept)), [reason])
        case .garbage:
            var data = random.bytes(random.below(300))
            if data.first == 0x93 { data[0] = 0 }
            return (data, ["not a .npy file (bad magic)"])
        }
    }
}

// MARK: - Instance JSON, whole or damaged

/// One malformed instance document: a small valid instance written by hand, with one damage.
private struct JSONCase: CustomStringConvertible, Sendable {
    enum Damage: CaseIterable, Sendable {
        case truncated, appended, wrongType, hugeNumber, deepNesting, unclosedNesting, flippedByte
    }

    enum Expected {
        /// Refused with an error whose path starts with `path` and whose message contains `message` (any if empty).
        case refused(path: String, message: String)
        /// Refused, or decoded to an instance.
        case either
    }

    var damage: Damage
    var dimension: Int
    var outputs: Int
    var count: Int
    var slot: Int
    var depth: Int
    var seed: UInt64

    static let generator = zip(
        Gen.element(of: Damage.allCases), Gen.int(in: 1...3), Gen.int(in: 2...3), Gen.int(in: 1...3),
        Gen.int(in: 0...10_000), Gen.int(in: 1...1200), Gen.int(in: Int.min...Int.max)
    ).map { damage, d, k, n, slot, depth, seed in
        JSONCase(damage: damage!, dimension: d, outputs: k, count: n, slot: slot, depth: depth, seed: UInt64(bitPattern: Int64(seed)))
    }

    var description: String { "\(damage) (d \(dimension), k \(outputs), n \(count), slot \(slot), depth \(depth), seed \(seed))" }

    enum Kind { case number, integer, string, array, object }

    /// Every value of the document, by key path, with its kind.
    var slots: [(path: String, kind: Kind)] {
        var slots: [(String, Kind)] = [("name", .string), ("featureBound", .number), ("beta", .number), ("weightDecay", .number),
                                       ("reference", .object), ("reference.theta", .array), ("dpo", .array), ("sft", .array)]
        slots += (0..<dimension).map { ("reference.theta[\($0)]", .number) }
        for (table, keys) in [("dpo", [("chosen", Kind.integer), ("rejected", .integer)]), ("sft", [("target", .integer)])] {
            for i in 0..<count {
                slots += [("\(table)[\(i)]", .object), ("\(table)[\(i)].features", .array)] + keys.map { ("\(table)[\(i)].\($0.0)", $0.1) }
                for j in 0..<outputs {
                    slots.append(("\(table)[\(i)].features[\(j)]", .array))
                    slots += (0..<dimension).map { ("\(table)[\(i)].features[\(j)][\($0)]", .number) }
                }
            }
        }
        return slots
    }

    /// The document with `replacement` as the text of the value at `path`.
    func text(replacing path: String? = nil, with replacement: String = "") -> String {
        func value(_ at: String, _ text: @autoclosure () -> String) -> String { at == path ? replacement : text() }
        func block(_ table: String, _ i: Int, _ keys: [(String, Int)]) -> String {
            let features = value("\(table)[\(i)].features", "[" + (0..<outputs).map { j in
                value("\(table)[\(i)].features[\(j)]", "[" + (0..<dimension).map { l in
                    // Entries of magnitude at most 3/(8d): every norm is below the bound 1.
                    value("\(table)[\(i)].features[\(j)][\(l)]", "\(Double((i + 2 * j + 3 * l) % 7 - 3) / Double(8 * dimension))")
                }.joined(separator: ", ") + "]")
            }.joined(separator: ", ") + "]")
            let rest = keys.map { ", \"\($0.0)\": " + value("\(table)[\(i)].\($0.0)", "\($0.1)") }.joined()
            return value("\(table)[\(i)]", "{\"features\": \(features)\(rest)}")
        }
        let theta = value("reference.theta", "[" + (0..<dimension).map { value("reference.theta[\($0)]", "0.\($0)") }.joined(separator: ", ") + "]")
        let dpo = value("dpo", "[\n" + (0..<count).map { "    " + block("dpo", $0, [("chosen", $0 % outputs), ("rejected", ($0 + 1) % outputs)]) }.joined(separator: ",\n") + "\n  ]")
        let sft = value("sft", "[\n" + (0..<count).map { "    " + block("sft", $0, [("target", $0 % outputs)]) }.joined(separator: ",\n") + "\n  ]")
        return """
        {
          "name": \(value("name", "\"fuzz\"")),
          "featureBound": \(value("featureBound", "1.0")),
          "beta": \(value("beta", "0.5")),
          "weightDecay": \(value("weightDecay", "0.0")),
          "reference": \(value("reference", "{\"theta\": \(theta)}")),
          "dpo": \(dpo),
          "sft": \(sft)
        }

        """
    }

    func document() -> (bytes: [UInt8], expected: Expected) {
        var random = SplitMix(state: seed)
        let valid = Array(text().utf8)
        let (path, kind) = slots[slot % slots.count]
        // Containers around the value at `path`: the document's object plus one per key or index.
        let enclosing = path.filter { $0 == "." || $0 == "[" }.count + 1
        switch damage {
        case .truncated:
            let end = valid.lastIndex(of: UInt8(ascii: "}"))!
            return (Array(valid.prefix(random.below(end))), .refused(path: "", message: "malformed JSON"))
        case .appended:
            var tail = random.bytes(1 + random.below(20))
            if [0x20, 0x09, 0x0A, 0x0D].contains(tail[0]) { tail[0] = UInt8(ascii: "x") }
            return (valid + tail, .refused(path: "", message: "malformed JSON"))
        case .wrongType:
            let others: [(String, Kind)] = [("\"1\"", .string), ("7", .integer), ("[]", .array), ("{}", .object), ("null", .number), ("true", .number)]
            let choices = others.filter { $0.1 != kind && !($0.1 == .integer && kind == .number) }
            let replacement = choices[random.below(choices.count)].0
            let message = switch kind {
            case .number, .integer: "must be a number"
            case .string: "must be a string"
            case .array: "must be a JSON array"
            case .object: "must be a JSON object"
            }
            return (Array(text(replacing: path, with: replacement).utf8), .refused(path: path, message: message))
        case .hugeNumber:
            switch (kind, random.below(3)) {
            case (.number, 0) where path.hasSuffix("]") && !path.hasPrefix("reference"):
                // A finite entry whose square overflows: the norm is still named exactly.
                let row = String(path[..<path.lastIndex(of: "[")!])
                return (Array(text(replacing: path, with: "-1e200").utf8),
                        .refused(path: row, message: "has norm 1e+200 above featureBound 1.0"))
            case (.integer, 0):
                return (Array(text(replacing: path, with: "1e300").utf8), .refused(path: path, message: "is too large (integers here must stay below 9e15), got 1e+300"))
            case (.integer, 1):
                return (Array(text(replacing: path, with: "123456789012345678901234567890").utf8), .refused(path: path, message: "is too large"))
            default:
                let word = ["1e999", "-1e400", "NaN", "Infinity", "-Infinity"][random.below(5)]
                guard kind == .number || kind == .integer else {
                    return (Array(text(replacing: path, with: word).utf8), .refused(path: path, message: "must be a"))
                }
                return (Array(text(replacing: path, with: word).utf8), .refused(path: path, message: "must be a finite number"))
            }
        case .deepNesting:
            let nested = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            let bytes = Array(text(replacing: path, with: nested).utf8)
            if enclosing + depth > 512 { return (bytes, .refused(path: "", message: "nesting deeper than 512 levels")) }
            return (bytes, .refused(path: path, message: ""))
        case .unclosedNesting:
            let bytes = Array(text(replacing: path, with: String(repeating: "[", count: depth * 100)).utf8)
            return (bytes, .refused(path: "", message: "malformed JSON"))
        case .flippedByte:
            var bytes = valid
            bytes[random.below(bytes.count)] ^= UInt8(1 + random.below(255))
            return (bytes, .either)
        }
    }
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
