package layout

// SetBeforeRename sets the hook WriteFiles calls before each rename; nil
// removes it.
func SetBeforeRename(f func(path string)) { beforeRename = f }
