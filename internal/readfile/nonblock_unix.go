//go:build unix

package readfile

import "syscall"

const nonblock = syscall.O_NONBLOCK
