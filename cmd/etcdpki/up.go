package main

import "github.com/spf13/cobra"

// newUpCmd is filled in by the local cluster work.
func newUpCmd() *cobra.Command {
	return &cobra.Command{Use: "up", Short: "Run a local mTLS etcd cluster in-process", Hidden: true}
}
