//go:build !unix

package lifecycle_test

import (
	"errors"
	"os"
)

func flock(*os.File) error { return errors.New("no flock on this system") }
