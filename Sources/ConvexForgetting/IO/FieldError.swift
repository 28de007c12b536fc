/// A violated rule of an input file (instance, experiment, manifest): `path` is the key path of the field
/// (`dpo[3].chosen`, `schedules[1].rate`), `file` the file when known. The one error type of the schema layer.
public struct FieldError: Error, Equatable, CustomStringConvertible {
    public var file: String?
    public var path: String
    public var message: String

    public init(file: String? = nil, path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    public var description: String {
        let location = [file, path.isEmpty ? nil : path].compactMap { $0 }.joined(separator: ": ")
        return location.isEmpty ? message : "\(location): \(message)"
    }
}
