// Package lifecycle changes a running cluster's PKI: it adds a member
// (AddMember, AddMemberFromPKI), re-issues leaf certificates (Renew) and
// rotates the etcd CA in stages (Stage, Reissue, Finalize, with Status
// saying where each member is).
//
// It works on the directory that init writes (Open): the CA in <out>/ca,
// each member's tree in <out>/<member>, the spec in <out>/cluster.yaml.
// The operator copies the changed trees to the nodes, as after init.
//
// # How files change
//
// Every file is replaced through layout.WriteFile's temp-file-and-rename,
// so a reader or a crash sees the old file or the new one, never a mix. A
// certificate and its key are written to temporary files first and renamed
// into place one right after the other (layout.PrepareFile), because etcd
// re-reads both on every TLS handshake; a run killed between those two
// renames leaves the second file complete under its temporary name, and the
// next run of any command here finishes the rename before doing anything
// else (repair), so a pair never stays mismatched.
//
// Before a file is replaced, its old content is copied to
// <out>/backups/<UTC time>-<command>/<path under out>, with its mode (keys
// stay 0600, the directory is 0700): restoring is copying that directory
// back over <out>. A file whose new content equals the old is left alone,
// so a command run twice writes nothing the second time or (renew, which
// issues fresh certificates) only writes again with a new backup. One
// command at a time may change a directory: each takes an exclusive lock
// on <out>/.etcdpki.lock, which the kernel releases if the process dies.
//
// No command prints key material, and none writes a CA key except
// Finalize, which backs it up first.
//
// # CA rotation
//
// etcd builds its trusted CA pools once, when it starts
// (transport.TLSInfo.ServerConfig and ClientConfig read --trusted-ca-file
// and --peer-trusted-ca-file through tlsutil.NewCertPool), but reads its
// own certificate and key on every handshake (the GetCertificate and
// GetClientCertificate callbacks of TLSInfo.baseConfig call
// tlsutil.NewCert). So the CA is rotated in three stages, each rolled out
// member by member, with a rolling restart after Stage and after Finalize:
//
//  1. Stage: make a new CA once (kept in <out>/ca-next until Finalize) and
//     make every member's ca.crt the bundle old+new, which is also written
//     for the etcd clients that are not members (BundlePath). Restart each
//     member, one at a time, so it trusts both.
//  2. Reissue: sign every member's leaves with the new CA. No restart:
//     the next handshake serves them, and every member trusts both CAs.
//  3. Finalize: make every member's ca.crt (and ca.key) the new CA's, and
//     restart each member, one at a time, so it trusts only the new CA.
//     When every member is finalized the new CA becomes <out>/ca, and the
//     old one is kept in <out>/ca-retired (RetiredCADir).
//
// Status reads each member's stage from its files alone (there is no state
// file that could disagree with them), and Reissue and Finalize refuse to
// run while a member's files are not ready for them. Whether a member was
// restarted, the files cannot say: by default Reissue and Finalize also
// check the running members (CheckLive, TLS handshakes with client
// certificates of each CA made for the purpose) and refuse, one line per
// member, while one is unreachable or runs with the trust of the stage
// before (RotateOptions.Offline skips that check). StatusLive names the
// members that still need a restart at every stage, and forgets the
// retired CA once every member refuses it.
package lifecycle
