// Package spec is the cluster specification: the members of an etcd
// cluster with their addresses, and the choices that shape its PKI (key
// algorithm, file layout, lifetimes, ports). Specs come from YAML files or
// from --member flags and are validated before anything is written, with
// errors that name the offending field.
package spec
