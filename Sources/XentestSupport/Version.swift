/// The version of xentest, printed by `xentest --version` and recorded in reports.
public enum XentestVersion {
    /// Semantic version of this build.
    public static let current = "0.1.0"
}
