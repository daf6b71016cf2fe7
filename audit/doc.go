// Package audit is the rule catalogue and the offline checker of etcd
// PKIs. It reads the certificate directories of all members of a cluster
// (with their etcd manifests or config files when present) and reports,
// per member and file, every rule the files break: the four conditions R1–R4
// (one CA, signed by it, per-member leaves, the right names) and the other
// ways real clusters fail (key usages, expiry, flags, permissions, weak
// crypto).
//
// Findings are typed values (Finding) whose text derives from the
// catalogue (Catalogue), so the CLI, JSON and YAML reports and docs/rules.md
// all say the same thing.
package audit
