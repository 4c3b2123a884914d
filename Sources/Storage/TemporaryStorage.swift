/// Where `dlb://` keys live (`storage.kind`): on this node's disk, or in an S3 bucket that several nodes
/// share.
public enum TemporaryStorage: Sendable {
  case local(LocalStorage)
  case s3(S3Storage)
}
