/// The methods `--method` can name. A new method is one file plus one line here.
public enum MethodRegistry {
    public static let methods: [any IncrementalMethod.Type] = [
        FineTuning.self,
        JointTraining.self,
        LwF.self,
        ICaRL.self,
        LUCIR.self,
        PODNetCNN.self,
        Mnemonics.self,
    ]

    public static var names: [String] { methods.map { $0.name } }

    public static func make(_ name: String, settings: MethodSettings) throws -> any IncrementalMethod {
        guard let type = methods.first(where: { $0.name == name }) else {
            throw MethodError.unknownMethod(name, known: names)
        }
        try settings.rejectUnknown(type.settingKeys, method: name)
        return try type.init(settings: settings)
    }
}
