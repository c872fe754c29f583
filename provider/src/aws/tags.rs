//! The tags this provider puts on what it creates. They are how progress and ownership live in
//! the cloud rather than in memory: a later apply finds and finishes or sweeps by them.

/// Bake id on every temporary object and on the image, e.g. `bake-1f3a…`.
pub const BAKE_ID: &str = "immutable:bake-id";
/// RFC 3339 time after which a temporary object is certainly abandoned and may be swept by anyone.
pub const EXPIRES_AT: &str = "immutable:expires-at";
/// Marks builder instances, key pairs and security groups: things that must not outlive a bake.
pub const TEMPORARY: &str = "immutable:temporary";
/// On images: what determines the image's content; equal fingerprints mean the same image.
pub const FINGERPRINT: &str = "immutable:fingerprint";
pub const CODE_TAG: &str = "immutable:code-tag";
pub const SOURCE_AMI: &str = "immutable:source-ami";
/// `host:pid:start` of the process that made a temporary object (see `bake::owner`).
pub const OWNER: &str = "immutable:owner";
