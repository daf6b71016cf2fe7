package layout

import (
	"errors"
	"fmt"
	"os"

	"github.com/etcdpki/etcdpki/pki"
)

// Pair is a certificate file and its key file, which must match: a leaf and
// its key, or a CA certificate (the first one of a bundle) and the CA's
// key.
type Pair struct {
	Cert, Key string
	// KeepKey forbids renaming a temporary file over an existing Key: init
	// never replaces a CA key, not even to finish a write.
	KeepKey bool
}

// Repair completes the replacements that a killed run left half done and
// removes the temporary files ([TempFiles]) it left next to pairs and
// singles. A pair is written by renaming complete, synced temporary files
// into place one right after the other ([WriteFiles], [PendingFile]), so a
// pair whose certificate and key do not match (or one of which is
// missing), next to a temporary file that matches the other half, is one
// that was killed between its two renames: the rename is finished. Every
// other temporary file is left over from a run killed before its pair's
// renames began, while the old files (or none) were still whole, and is
// removed. Repair returns the paths it completed.
//
// The caller must hold the directory's [Lock]: another command's
// temporary files are not leftovers.
func Repair(pairs []Pair, singles []string) (repaired []string, err error) {
	for _, p := range pairs {
		certTemps, err := TempFiles(p.Cert)
		if err != nil {
			return repaired, err
		}
		keyTemps, err := TempFiles(p.Key)
		if err != nil {
			return repaired, err
		}
		if len(certTemps) == 0 && len(keyTemps) == 0 {
			continue
		}
		if !PairMatches(p.Cert, p.Key) {
			temp, path := "", ""
			for _, t := range certTemps {
				if PairMatches(t, p.Key) {
					temp, path = t, p.Cert
					break
				}
			}
			if temp == "" && !(p.KeepKey && exists(p.Key)) {
				for _, t := range keyTemps {
					if PairMatches(p.Cert, t) {
						temp, path = t, p.Key
						break
					}
				}
			}
			if temp != "" {
				if err := (&PendingFile{Path: path, Temp: temp}).Commit(); err != nil {
					return repaired, fmt.Errorf("completing the interrupted write of %s: %w", path, err)
				}
				repaired = append(repaired, path)
			}
		}
		singles = append(singles, p.Cert, p.Key)
	}
	for _, s := range singles {
		temps, err := TempFiles(s)
		if err != nil {
			return repaired, err
		}
		for _, t := range temps {
			if err := os.Remove(t); err != nil && !errors.Is(err, os.ErrNotExist) {
				return repaired, err
			}
		}
	}
	return repaired, nil
}

// PairMatches reports whether certPath's first certificate and keyPath's
// key both read (with the bounded reader) and belong together.
func PairMatches(certPath, keyPath string) bool {
	certs, err := ReadCerts(certPath)
	if err != nil || len(certs) == 0 {
		return false
	}
	key, err := ReadKey(keyPath)
	return err == nil && pki.KeyMatches(certs[0].PublicKey, key)
}
