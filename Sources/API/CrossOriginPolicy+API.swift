import HTTPServer

extension CrossOriginPolicy {
  /// Browser access to the API as Dolby's browser samples use it: the token routes and every `/media/*` route,
  /// from `origins`. The dashboard and Ferry's own storage URLs are not covered.
  public static func api(origins: Origins) -> CrossOriginPolicy {
    CrossOriginPolicy(origins: origins, paths: ["/media/", "/v1/auth/token"])
  }

  /// `server.cors.allowed_origins` as configured: `["*"]` is any origin, anything else exactly those.
  public static func api(configured origins: [String]) -> CrossOriginPolicy {
    api(origins: origins == ["*"] ? .any : .only(Set(origins)))
  }
}
