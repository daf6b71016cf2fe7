package main

import "github.com/spf13/cobra"

// operateCommands are the read-only operating commands: expiry, exporter,
// inspect, graph (issue 6).
func operateCommands() []*cobra.Command {
	return []*cobra.Command{newExpiryCmd(), newInspectCmd(), newGraphCmd(), newExporterCmd()}
}
