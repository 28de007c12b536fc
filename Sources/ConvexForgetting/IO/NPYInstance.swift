import Foundation

/// An instance as a directory of NumPy arrays, for large instances and for features exported from a real
/// model (Remark 3.1: training only the output projection is exactly this softmax model):
///
///     DIR/instance.json     {"name", "featureBound", "beta", "weightDecay", "reference"} as in the JSON schema
///     DIR/dpo_features.npy  float64 [N, K, d]
///     DIR/dpo_chosen.npy    int64 (or int32) [N]
///     DIR/dpo_rejected.npy  int64 (or int32) [N]
///     DIR/sft_features.npy  float64 [M, K, d]
///     DIR/sft_targets.npy   int64 (or int32) [M]
///
/// Every rule of the JSON schema applies, with errors naming the file and the field.
public enum NPYInstance {
    public static let files = ["dpo_features", "dpo_chosen", "dpo_rejected", "sft_features", "sft_targets"]

    public static func load(directory: String) throws(FieldError) -> Instance {
        func file(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        let scalarsPath = file("instance.json")
        let scalars = try SchemaDocument.load(path: scalarsPath, format: .json)
        let (fields, reference) = try SchemaDocument.attributed(to: scalarsPath) { () throws(FieldError) in
            let fields = try scalars.object(required: ["featureBound", "beta", "reference"], optional: ["name", "weightDecay"])
            return (fields, try InstanceFile.readReference(fields["reference"]!))
        }
        func doubles(_ name: String) throws(FieldError) -> (values: [Double], shape: [Int]) {
            do { return try NPY.readDoubles(file(name + ".npy")) } catch {
                throw FieldError(file: error.path, path: "", message: error.message)
            }
        }
        func integers(_ name: String) throws(FieldError) -> (values: [Int], shape: [Int]) {
            do { return try NPY.readIntegers(file(name + ".npy")) } catch {
                throw FieldError(file: error.path, path: "", message: error.message)
            }
        }
        let dpo = try doubles("dpo_features")
        let sft = try doubles("sft_features")
        for (name, array) in [("dpo_features", dpo), ("sft_features", sft)] where array.shape.count != 3 {
            throw FieldError(file: file(name + ".npy"), path: "", message: "shape \(array.shape) is not [count, outputs, dimension]")
        }
        let (n, k, d) = (dpo.shape[0], dpo.shape[1], dpo.shape[2])
        let (m, ks) = (sft.shape[0], sft.shape[1])
        // A zero among outputs and dimension makes an empty array whatever the count, so the file's size does
        // not bound the count: refuse it here, before count + 1 offsets are built (validation would refuse
        // it too, but only after).
        for (name, shape) in [("dpo_features", dpo.shape), ("sft_features", sft.shape)] where shape[0] > 0 {
            guard shape[2] >= 1 else {
                throw FieldError(file: file(name + ".npy"), path: "", message: "shape \(shape): feature vectors must have at least one entry")
            }
            guard shape[1] >= 2 else {
                throw FieldError(file: file(name + ".npy"), path: "", message: "shape \(shape): every input needs at least 2 outputs, got \(shape[1])")
            }
        }
        guard sft.shape[2] == d else {
            throw FieldError(file: file("sft_features.npy"), path: "", message: "dimension \(sft.shape[2]) differs from dpo_features' \(d)")
        }
        let chosen = try integers("dpo_chosen"), rejected = try integers("dpo_rejected"), targets = try integers("sft_targets")
        for (name, array, expected) in [("dpo_chosen", chosen, n), ("dpo_rejected", rejected, n), ("sft_targets", targets, m)]
        where array.shape != [expected] {
            throw FieldError(file: file(name + ".npy"), path: "", message: "shape \(array.shape) does not match [\(expected)]")
        }
        do {
            return try Instance(
                name: try fields["name"]?.string() ?? (directory as NSString).lastPathComponent,
                featureBound: try fields["featureBound"]!.number(), beta: try fields["beta"]!.number(),
                weightDecay: try fields["weightDecay"]?.number() ?? 0, reference: reference,
                dpoFeatures: FeatureBlocks(dimension: d, offsets: (0...n).map { $0 * k }, values: dpo.values, path: "dpo_features"),
                chosen: chosen.values, rejected: rejected.values,
                sftFeatures: FeatureBlocks(dimension: d, offsets: (0...m).map { $0 * ks }, values: sft.values, path: "sft_features"),
                targets: targets.values)
        } catch var error {
            // Name the array file the field lives in: dpo[3].chosen is dpo_chosen.npy[3].
            error.file = directory
            throw error
        }
    }

    /// Writes `instance` (every input of an objective must have the same number of outputs).
    ///
    /// The files go to a hidden staging directory beside `directory`, which then replaces it whole: an
    /// interrupted write never leaves new arrays beside an old instance.json.
    public static func write(_ instance: Instance, to target: String) throws(FieldError) {
        let url = URL(fileURLWithPath: target).standardizedFileURL
        let directory = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).staging").path
        let manager = FileManager.default
        try? manager.removeItem(atPath: directory)
        do throws(FieldError) {
            try writeFiles(instance, to: directory)
            var isDirectory: ObjCBool = false
            if manager.fileExists(atPath: target, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else { throw FieldError(file: target, path: "", message: "exists and is not a directory") }
                let old = directory + ".old"
                guard rename(target, old) == 0 else { throw FieldError(file: target, path: "", message: "cannot replace it (\(String(cString: strerror(errno))))") }
                guard rename(directory, target) == 0 else {
                    _ = rename(old, target)
                    throw FieldError(file: target, path: "", message: "cannot move the new instance into place (\(String(cString: strerror(errno))))")
                }
                try? manager.removeItem(atPath: old)
            } else if rename(directory, target) != 0 {
                throw FieldError(file: target, path: "", message: "cannot move the new instance into place (\(String(cString: strerror(errno))))")
            }
        } catch {
            try? manager.removeItem(atPath: directory)
            throw error
        }
    }

    static func writeFiles(_ instance: Instance, to directory: String) throws(FieldError) {
        func fail(_ message: String) -> FieldError { FieldError(file: directory, path: "", message: message) }
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw fail("cannot create the directory")
        }
        func uniform(_ table: FeatureBlocks) -> Int? {
            let k = table.outputCount(0)
            return (0..<table.count).allSatisfy { table.outputCount($0) == k } ? k : nil
        }
        guard let k = uniform(instance.dpoFeatures), let ks = uniform(instance.sftFeatures) else {
            throw fail("the .npy format needs the same number of outputs for every input of an objective")
        }
        let d = instance.dimension
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        do {
            try NPY.write(instance.dpoFeatures.values, shape: [instance.dpoFeatures.count, k, d], to: path("dpo_features.npy"))
            try NPY.write(instance.chosen, shape: [instance.chosen.count], to: path("dpo_chosen.npy"))
            try NPY.write(instance.rejected, shape: [instance.rejected.count], to: path("dpo_rejected.npy"))
            try NPY.write(instance.sftFeatures.values, shape: [instance.sftFeatures.count, ks, d], to: path("sft_features.npy"))
            try NPY.write(instance.targets, shape: [instance.targets.count], to: path("sft_targets.npy"))
        } catch {
            throw FieldError(file: error.path, path: "", message: error.message)
        }
        var scalars = InstanceFile.encode(instance)
        // The scalars file: the JSON encoding without the data arrays.
        if let dpoRange = scalars.range(of: ",\n  \"dpo\": [") {
            scalars = String(scalars[..<dpoRange.lowerBound]) + "\n}\n"
        }
        do { try AtomicFile.write(scalars, to: path("instance.json")) } catch { throw fail(error.description) }
    }
}

/// Loads an instance from a JSON file or an .npy directory.
public enum InstanceLoader {
    public static func load(path: String) throws(FieldError) -> Instance {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return try NPYInstance.load(directory: path)
        }
        return try InstanceFile.load(path: path)
    }
}
