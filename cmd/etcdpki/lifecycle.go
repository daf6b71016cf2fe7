package main

import "github.com/spf13/cobra"

// lifecycleCommands are the day-2 commands that change a cluster's files:
// add-member, renew, rotate-ca (issue 5).
func lifecycleCommands() []*cobra.Command {
	return nil
}
