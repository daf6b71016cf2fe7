package main

import (
	"fmt"
	"io"
	"os"
)

// keyProgress returns a layout.InitOptions.Progress that shows how many
// keys are done on w, rewriting one line, when w is a terminal; nil (no
// output at all) otherwise, so logs and scripts see nothing of it.
func keyProgress(w io.Writer, algo string) func(done, total int) {
	if !isTTY(w) {
		return nil
	}
	return progressLine(w, algo)
}

// progressLine writes "generating N ALGO keys: done/total" over itself
// and clears the line when the last key is done.
func progressLine(w io.Writer, algo string) func(done, total int) {
	return func(done, total int) {
		if done >= total {
			fmt.Fprint(w, "\r\x1b[K")
			return
		}
		fmt.Fprintf(w, "\rgenerating %d %s keys: %d/%d", total, algo, done, total)
	}
}

// isTTY reports whether w is a terminal (a character device).
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
