/// Ferry's own version (`ferry version`, `/health`, `result.version`).
public enum FerryVersion {
  public static let current = "0.1.0"
}
